#!/usr/bin/env bash
# Create .venv with Python 3.10 and install the project from the constraints file.
# Re-runs are cheap: nothing is installed when pyproject.toml and constraints.txt are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
  for cand in python3.10 "$HOME/.pyenv/versions/3.10"*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
      command -v "$cand"; return
    fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    local v; v=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | sort -V | tail -n1 || true)
    if [ -n "$v" ]; then echo "$(pyenv root)/versions/$v/bin/python3.10"; return; fi
  fi
  return 1
}

if [ ! -x .venv/bin/python ]; then
  if ! PY=$(find_python); then
    cat >&2 <<'MSG'
需要 Python 3.10（Rasa 3.6 不支持更新的版本），但在 PATH 和 pyenv 中都没有找到。
安装方法任选其一：
  pyenv install 3.10.13            # 然后重新运行 make run
  apt-get install python3.10 python3.10-venv
或者用 PYTHON=/path/to/python3.10 make run 指定解释器。
MSG
    exit 1
  fi
  echo "使用 $PY 创建虚拟环境 .venv"
  "$PY" -m venv .venv
fi

stamp=.venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "安装依赖（首次约需数分钟）…"
  .venv/bin/python -m pip install -q "pip<24.1"
  .venv/bin/python -m pip install -q -c constraints.txt setuptools wheel
  .venv/bin/python -m pip install -q -c constraints.txt -e ".[dev]"
  .venv/bin/python -m pip check
  rm -f .venv/.installed-*
  touch "$stamp"
fi
