"""The thread stage's pure logic (evidence.py): what a message says about its conversation,
and the JWZ rules that join it to one; gateway/thread/assign.py applies them to the database."""
