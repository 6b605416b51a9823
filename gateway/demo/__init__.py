"""``commgate demo``'s cast, story and view (the command is gateway.cli.demo)."""
