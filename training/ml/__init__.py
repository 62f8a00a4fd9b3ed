"""Framework-free training: reward models, DPO, PPO, GRPO and SFT on Hugging Face models.

Never imports Django. Importing the package is cheap (no torch); import the trainer modules
(``training.ml.reward`` ...) where training happens, or run ``python -m training.ml --help``.
"""
