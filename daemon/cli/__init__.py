"""The command line: argument parsing, the verbs, and what they print."""
