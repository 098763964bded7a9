# bash completion for mcpbkctl. Installed as
# <prefix>/share/bash-completion/completions/mcpbkctl; works with or without
# the bash-completion package (source it from ~/.bashrc in the latter case).

_mcpbkctl_commands="status hosts list show cat diff restore snapshot pin unpin
prune verify events export import doctor"
_mcpbkctl_hosts="claude-desktop claude-code vscode vscode-insiders cursor
lmstudio gemini windsurf zed codex cline roo-code continue goose amazon-q kiro
opencode junie copilot-cli copilot-jetbrains"

# Prints the ids of the newest snapshots, quietly: nothing when mcpbkctl is
# missing or fails. $@ are the global options already on the command line.
_mcpbkctl_ids() {
  local -a run=(command mcpbkctl)
  command -v timeout >/dev/null 2>&1 && run=(timeout 2 mcpbkctl)
  "${run[@]}" "$@" list --json --limit 50 2>/dev/null </dev/null |
    grep -o '"id": *[0-9][0-9]*' | grep -o '[0-9][0-9]*$'
}

# Sets COMPREPLY to the lines of standard input (bash 3.2 has no mapfile).
_mcpbkctl_reply() {
  local line
  COMPREPLY=()
  while IFS= read -r line; do
    COMPREPLY+=("$line")
  done
}

_mcpbkctl() {
  local cur prev cmd="" i word
  local -a globals=()
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=""
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()

  # Find the command and the global options that locate the daemon.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    case $word in
    --socket | --config | --state-dir)
      ((i + 1 < COMP_CWORD)) && globals+=("$word" "${COMP_WORDS[i + 1]}")
      ((i++))
      ;;
    --socket=* | --config=* | --state-dir=*) globals+=("$word") ;;
    --host | --path | --since | --newer-than | --limit | --to | --note | -o | \
      --output | --on-conflict)
      ((i++))
      ;;
    -*) ;;
    *) [[ -z $cmd ]] && cmd=$word ;;
    esac
  done

  case $prev in
  --socket | --config | --to | --path | -o | --output)
    compopt -o filenames 2>/dev/null
    _mcpbkctl_reply < <(compgen -f -- "$cur")
    return
    ;;
  --state-dir)
    compopt -o filenames 2>/dev/null
    _mcpbkctl_reply < <(compgen -d -- "$cur")
    return
    ;;
  --host)
    _mcpbkctl_reply < <(compgen -W "$_mcpbkctl_hosts" -- "$cur")
    return
    ;;
  --on-conflict)
    _mcpbkctl_reply < <(compgen -W "skip rename fail" -- "$cur")
    return
    ;;
  --since | --newer-than | --limit | --note) return ;;
  esac

  local global_flags="--json --socket --config --state-dir --help --version"
  if [[ -z $cmd ]]; then
    if [[ $cur == -* ]]; then
      _mcpbkctl_reply < <(compgen -W "$global_flags" -- "$cur")
    else
      _mcpbkctl_reply < <(compgen -W "$_mcpbkctl_commands" -- "$cur")
    fi
    return
  fi

  local flags="" ids=no files=no
  case $cmd in
  list) flags="--host --path --since --newer-than --limit" ;;
  show) flags="--show-secrets" ids=yes ;;
  cat | pin | unpin) ids=yes ;;
  diff) flags="--show-secrets" ids=yes ;;
  restore)
    flags="--to --dry-run --only-mcp --yes --last-good --host --path
      --show-secrets"
    ids=yes
    ;;
  snapshot) flags="--host --note" files=yes ;;
  prune) flags="--dry-run" ;;
  events) flags="--follow --limit" ;;
  export) flags="--host --output --redact" ;;
  import) flags="--on-conflict" files=yes ;;
  esac

  if [[ $cur == -* ]]; then
    _mcpbkctl_reply < <(compgen -W "$flags $global_flags" -- "$cur")
  elif [[ $ids == yes ]]; then
    _mcpbkctl_reply < <(compgen -W "$(_mcpbkctl_ids "${globals[@]}")" \
      -- "$cur")
  elif [[ $files == yes ]]; then
    compopt -o filenames 2>/dev/null
    _mcpbkctl_reply < <(compgen -f -- "$cur")
  fi
}

complete -F _mcpbkctl mcpbkctl
