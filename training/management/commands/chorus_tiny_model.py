"""`python manage.py chorus_tiny_model`: the demo base model, a tiny random causal LM and tokenizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from training.services.demo import demo_base_model


class Command(BaseCommand):
    help = "Build a tiny random causal LM with its tokenizer (Hugging Face format) for demos and tests."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output-dir",
            type=Path,
            default=None,
            help="Default: <CHORUS_VAR_DIR>/models/tiny-lm.",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--force", action="store_true", help="Rebuild it even if it exists.")
        parser.add_argument(
            "--chat-template", action="store_true", help="Give the tokenizer a ChatML template."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from training.ml.tiny import build_tiny_causal_lm  # imports torch: only here

        output_dir = options["output_dir"] or Path(demo_base_model())
        if (output_dir / "config.json").exists() and not options["force"]:
            self.stdout.write(f"Tiny causal LM already in {output_dir} (--force rebuilds it)")
            return
        path = build_tiny_causal_lm(
            output_dir, seed=options["seed"], chat_template=options["chat_template"]
        )
        self.stdout.write(self.style.SUCCESS(f"Tiny causal LM saved to {path}"))
