"""Speed benchmarks of rnn_ref against torch on the CPU, measured in the same run: ``python -m bench``."""
