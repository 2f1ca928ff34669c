"""Applications: real tasks, trained on a laptop CPU, that show why each architecture exists."""
