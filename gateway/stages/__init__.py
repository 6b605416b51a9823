"""The pipeline's stage adapters: unpack the context, call the domain, write."""
