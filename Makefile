# Developer tasks.

.PHONY: test

# Every test (installs missing Debian packages first).
test:
	scripts/test.sh
