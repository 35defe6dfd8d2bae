"""`edithf serve`: the batched reward of a scorer over HTTP on localhost (edithf.reward.service)."""
from __future__ import annotations

from edithf.commands.score import add_weights_argument, parse_weights
from edithf.commands.scorers import add_scorer_argument


def add_arguments(parser) -> None:
    add_scorer_argument(parser, default=None, required=True, help_="the scorer whose reward is served, a "
                        "registry name (`edithf scorers`), e.g. edithf:runs/x/best or dummy")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind; default localhost only")
    parser.add_argument("--port", type=int, default=8321, help="port (0 = any free port, printed)")
    parser.add_argument("--max-batch", type=int, default=32, help="most edits scored in one scorer call")
    parser.add_argument("--max-wait-ms", type=float, default=20.0,
                        help="how long the batcher waits for more requests after the first (ms)")
    parser.add_argument("--batch-size", type=int, default=8, help="scorer batch size inside one call")
    add_weights_argument(parser)


def run(args) -> int:
    from edithf.reward.reward import EditReward
    from edithf.reward.service import RewardService, make_server

    reward = EditReward(args.scorer, weights=parse_weights(args.weights), batch_size=args.batch_size)
    service = RewardService(reward, max_batch=args.max_batch, max_wait_s=args.max_wait_ms / 1000)
    server = make_server(service, args.host, args.port)
    host, port = server.server_address[:2]
    print(f"edithf serve: {reward.name} on http://{host}:{port} (POST /score, GET /health); Ctrl-C stops",
          flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        service.close()
    return 0
