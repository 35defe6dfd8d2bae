"""EditHFConfig: everything that defines an EditHF evaluator model (docs/design.md section 7).

One sequence per edit scores all three dimensions: [instruction + rubric][source image][edited
image] (the part a group shares first) then, as the assistant's answer, one teacher-forced segment per dimension
("Quality level:" ...). The hidden state at the last token of each segment feeds the score head;
the language head's logits at the same token, restricted to the level words, give the levels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from edithf.data.schema import DIMENSIONS, LEVELS, SCORE_RANGE

DEFAULT_RUBRICS = (
    "Quality: is the edited image sharp, clean and free of artefacts, distortions and noise?",
    "Alignment: does the edited image do exactly what the instruction asks, no less and no more?",
    "Preservation: are the parts of the source image the instruction does not mention kept unchanged?",
)
DEFAULT_ANSWER_PREFIXES = ("Quality level:", "Alignment level:", "Preservation level:")

# Every linear layer of the vision tower, the projector and the language model, by full name
# (peft `re.fullmatch`). Short names like "0"/"2" (Qwen's merger MLP) would also match whole vision
# blocks, so the merger layers are written out with their parent (docs/offline.md).
DEFAULT_LORA_TARGETS = (
    r".*(visual|vision_tower|multi_modal_projector)\..*"
    r"(\.qkv|\.proj|\.q_proj|\.k_proj|\.v_proj|\.projection_layer|\.fc1|\.fc2|\.linear_1|\.linear_2|merger\.mlp\.0|merger\.mlp\.2)"
    r"|.*language_model\..*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
)


@dataclass
class EditHFConfig:
    backbone: str = field(default="tiny:internvl", metadata={
        "help": "hub id (e.g. OpenGVLab/InternVL3_5-1B-HF, Qwen/Qwen2-VL-2B-Instruct), a local folder, "
        "or tiny:internvl / tiny:qwen2_vl (random tiny models built in memory, for tests and the demo)",
        "group": "model"})
    family: str = field(default="auto", metadata={
        "help": "backbone family; auto reads it from the backbone's config.model_type",
        "choices": ["auto", "internvl", "qwen2_vl", "qwen2_5_vl"], "group": "model"})
    tiny_seed: int = field(default=0, metadata={
        "help": "seed of the random weights of a tiny:* backbone and of a fresh score head", "group": "model"})
    dimensions: list[str] = field(default_factory=lambda: list(DIMENSIONS), metadata={
        "help": "scored dimensions, in output order", "group": "prompt"})
    levels: list[str] = field(default_factory=lambda: list(LEVELS), metadata={
        "help": "level words, worst first; their first tokens must differ", "group": "prompt"})
    instruction_template: str = field(
        default="Editing instruction: {instruction}\nRate the edited image on each aspect below "
        "with one of the words bad, poor, fair, good, excellent.\n{rubric}",
        metadata={"help": "user text before the two images; {instruction} and {rubric} are filled in",
                  "group": "prompt"})
    rubrics: list[str] = field(default_factory=lambda: list(DEFAULT_RUBRICS), metadata={
        "help": "one rubric line per dimension, joined into {rubric}", "group": "prompt"})
    answer_prefixes: list[str] = field(default_factory=lambda: list(DEFAULT_ANSWER_PREFIXES), metadata={
        "help": "teacher-forced answer segment per dimension; the score is read at its last token",
        "group": "prompt"})
    max_instruction_tokens: int = field(default=256, metadata={
        "help": "instructions longer than this many tokens are cut (documented; keeps the context bounded)",
        "group": "prompt"})
    head_hidden: list[int] = field(default_factory=lambda: [512, 128], metadata={
        "help": "hidden sizes of the shared score-head MLP (input: the backbone's hidden size)",
        "group": "head"})
    head_dropout: float = field(default=0.0, metadata={"help": "dropout inside the score head", "group": "head"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank", "group": "lora"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha (scale = alpha / r)", "group": "lora"})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout", "group": "lora"})
    lora_targets: str = field(default=DEFAULT_LORA_TARGETS, metadata={
        "help": "regex over full module names (peft fullmatch) of the linear layers that get LoRA, or "
        "a list of module names as peft takes them; each top-level alternative (list item) must match a "
        "module; the default covers the vision tower, the projector and the language model", "group": "lora"})
    score_range: list[float] = field(default_factory=lambda: list(SCORE_RANGE), metadata={
        "help": "range of the human scores; the model predicts (score - lo) / (hi - lo)", "group": "head"})
    level_ranges: list[list[float]] = field(default_factory=list, metadata={
        "help": "per dimension, the [min, max] MOS whose five equal bins are the level words (set by the "
        "textual stage from its train split, paper eq. 5); the expected score uses the same bin centres; "
        "empty = score_range", "group": "head"})
    image_size: int = field(default=448, metadata={
        "help": "InternVL: side of the single tile each image is resized to (real backbones)",
        "group": "images"})
    max_pixels: int = field(default=448 * 448, metadata={
        "help": "Qwen2-VL: most pixels per image after its smart resize (real backbones)", "group": "images"})
    dtype: str = field(default="auto", metadata={
        "help": "weights dtype; auto = bfloat16 on GPU, float32 on CPU",
        "choices": ["auto", "float32", "bfloat16", "float16"], "group": "model"})

    def __post_init__(self):
        n = len(self.dimensions)
        if len(self.rubrics) != n or len(self.answer_prefixes) != n:
            raise ValueError(
                f"EditHFConfig: rubrics ({len(self.rubrics)}) and answer_prefixes "
                f"({len(self.answer_prefixes)}) need one entry per dimension ({n}: {self.dimensions})")
        if len(self.levels) < 2:
            raise ValueError(f"EditHFConfig: need at least two level words, got {self.levels}")
        if self.level_ranges and len(self.level_ranges) != n:
            raise ValueError(f"EditHFConfig: level_ranges needs one [min, max] per dimension ({n}), got "
                             f"{self.level_ranges}")
        lo, hi = self.score_range
        if not hi > lo:
            raise ValueError(f"EditHFConfig: score_range must be [lo, hi] with hi > lo, got {self.score_range}")

    @property
    def level_values(self) -> list[list[float]]:
        """Value of each level per dimension, (D, L) in [0, 1] units: the centre of its bin. The
        bins are the ones the textual stage trained on: len(levels) equal bins of `level_ranges`
        (the train split's MOS min-max, paper eq. 5), or of score_range when it is empty."""
        k, (lo, hi) = len(self.levels), self.score_range
        ranges = self.level_ranges or [[lo, hi]] * len(self.dimensions)
        return [[(a + (i + 0.5) / k * (b - a) - lo) / (hi - lo) for i in range(k)] for a, b in ranges]
