"""Label Studio under the same load as Chorus (bench/bench_label_load.py --label-studio VENV)."""
