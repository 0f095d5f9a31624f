"""Task bodies shared by both stacks (they reach stack-specific parts through :mod:`mlpipe.stacks`)."""
