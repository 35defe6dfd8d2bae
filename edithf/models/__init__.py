"""MLLM backbones, the EditHF score model, checkpoint I/O and the tiny offline model factory."""
