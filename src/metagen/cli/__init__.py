"""The command line: argument parsing that builds configs and calls the library; nothing else."""
