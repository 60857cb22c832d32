# One-liners shared by the README and CI; each goes through tasks.py (which only needs Python).
PYTHON ?= python3

.PHONY: setup run test lint openapi bench
setup:   ; $(PYTHON) tasks.py setup
run:     ; $(PYTHON) tasks.py run
test:    ; $(PYTHON) tasks.py test $(PYTEST_ARGS)
lint:    ; $(PYTHON) tasks.py lint
openapi: ; $(PYTHON) tasks.py openapi
