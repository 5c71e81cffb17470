# The two commands of the quick start, and the developer tasks around them.

.PHONY: demo test

# Builds everything, starts the emulator, runs examples/demo.c against it.
demo:
	scripts/demo.sh

# Every test (installs missing Debian packages first).
test:
	scripts/test.sh
