"""A tiny recipe that trains in seconds, shared by the training and CLI tests."""

TINY = {
    "data": {"dataset": "glyphs", "size": 28},
    "model": {"name": "conv_vae", "options": {"latent_dim": 8, "width": 8}},
    "meta": {"algorithm": "reptile", "k_shot": 3, "q_query": 2, "meta_batch": 2, "inner_steps": 2, "adapt_steps": 2},
    "train": {"steps": 6, "seed": 0, "log_every": 1, "checkpoint_every": 2, "sample_every": 100},
}

# A prototypical-network embedding of the glyph characters (the evaluation feature space).
TINY_FEATURES = {
    "data": {"dataset": "glyphs", "size": 28},
    "model": {"name": "conv4_embedding", "options": {"width": 8}},
    "meta": {"algorithm": "protonet", "n_way": 5, "k_shot": 2, "q_query": 2, "meta_batch": 2},
    "train": {"steps": 4, "seed": 0, "log_every": 1, "checkpoint_every": 2, "sample_every": 100, "preview_tasks": 5},
}
