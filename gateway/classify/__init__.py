"""The classify stage's pure logic: facts, rules, decisions, findings."""
