"""The smallest CLIP sweep, shared by the executor tests: a trunk and its cooldown branch, seconds each."""

CLIP_SWEEP = {"name": "clip-ci", "ladder": "clip-tiny", "rungs": ["clip-tiny-1"], "n_samples": [256, 512],
              "lr": [3e-3], "batch_size": 32, "dataset": "shapeworld",
              "schedule": {"kind": "branched", "cooldown_frac": 0.25, "warmup": 64},
              "eval": {"eval_samples": 256},
              "extra": {"eval_pairs": 128, "eval_per_class": 1, "eval_loglik_per_class": 0}}
