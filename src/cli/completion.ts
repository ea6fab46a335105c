// Bash completion for umbra: the command names, each command's options
// (read from its own --help when asked, so they never drift from the
// parser), file names after the options that take a file, and the state
// command's verbs. Static text: `umbra completion bash` prints it, and
// `umbra install` puts it where bash-completion looks.

/** Options whose value is a file or directory name. */
const FILE_OPTIONS = ["--config", "--key", "--out", "--token-file", "--bin-dir", "--root", "--api"];
/** The verbs of `umbra state`. */
const STATE_VERBS = ["set", "get", "history", "reconcile", "workload", "put-blob", "get-blob"];

/** The bash completion script for the given command names. */
export function bashCompletion(commands: readonly string[]): string {
  return `# bash completion for umbra (umbra completion bash)
_umbra() {
  local cur prev cmd
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${[...commands, "help", "--help", "--version"].join(" ")}" -- "$cur"))
    return
  fi
  case "$prev" in
    ${FILE_OPTIONS.join("|")})
      COMPREPLY=($(compgen -f -- "$cur"))
      return
      ;;
  esac
  if [[ "$cur" == -* ]]; then
    # The command's own help names its options (about 0.1 s).
    COMPREPLY=($(compgen -W "$("\${COMP_WORDS[0]}" "$cmd" --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u)" -- "$cur"))
    return
  fi
  if [ "$cmd" = state ] && [ "$COMP_CWORD" -eq 2 ]; then
    COMPREPLY=($(compgen -W "${STATE_VERBS.join(" ")}" -- "$cur"))
    return
  fi
}
complete -o default -F _umbra umbra
`;
}
