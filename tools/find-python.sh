#!/usr/bin/env bash
# Print the path of a Python >= 3.12 (the Lambda runtime's version), preferring 3.12.
# Looks on PATH first, then in pyenv's versions; exits 1 with a message when none is found.
set -u
candidates=(python3.12 python3.13 python3)
for name in "${candidates[@]}"; do
  if path=$(command -v "$name" 2>/dev/null) && "$path" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    echo "$path"; exit 0
  fi
done
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for path in "$root"/versions/3.12*/bin/python3.12 "$root"/versions/3.13*/bin/python3.13; do
  if [ -x "$path" ]; then echo "$path"; exit 0; fi
done
echo "tools/find-python.sh: no Python 3.12 or newer found (install one, or run make PYTHON=/path/to/python3.12)" >&2
exit 1
