"""Training runs; see training/ml/ for the framework-free trainers."""
