"""The runner kit: the job contract's test cases, run against a runner image or command."""
