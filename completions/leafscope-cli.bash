# bash completion for leafscope-cli
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Subcommands and options come from leafscope-cli's own --help, so that they never drift from
# the program; class names and model ids from the catalog on the command line (or the default
# one). The help texts are asked once per shell, the catalog at every completion.

declare -gA _leafscope_cli_help_cache

# The --help text of "leafscope-cli WORDS... --help", asked once per shell.
_leafscope_cli_help()
{
    local key="_$*"
    if [[ -z ${_leafscope_cli_help_cache[$key]+set} ]]; then
        _leafscope_cli_help_cache[$key]=$(LC_ALL=C "$_leafscope_cli_program" "$@" --help 2>/dev/null)
    fi
    printf '%s\n' "${_leafscope_cli_help_cache[$key]}"
}

# The commands a help text lists under "Subcommands:" or "Commands:".
_leafscope_cli_commands()
{
    _leafscope_cli_help "$@" | awk '
        /^(Sub)?[Cc]ommands:/ { on = 1; next }
        on && /^$/ { exit }
        on && /^  [a-z]/ { print $1 }'
}

# The verbs a usage line offers in brackets: "classes [OPTION…] [list | add NAME | …]".
_leafscope_cli_verbs()
{
    _leafscope_cli_help "$@" | sed -n '2p' | sed 's/^ *[a-z-]* //' | tr '|[]' '\n\n\n' \
        | awk '$1 ~ /^[a-z]+$/ { print $1 }'
}

# Every long option a help text lists, with "=" when it takes a value.
_leafscope_cli_options()
{
    _leafscope_cli_help "$@" | sed -n 's/^ *\(-[a-zA-Z], \)\{0,1\}\(--[a-z0-9-]*\)\(=\{0,1\}\).*/\2\3/p'
}

# The value an option takes, as its help names it: --class=CLASS gives CLASS.
_leafscope_cli_metavar()
{
    local option=$1
    shift
    _leafscope_cli_help "$@" | sed -n "s/^ *\(-[a-zA-Z], \)\{0,1\}$option=\([A-Z_]*\).*/\2/p" | head -n 1
}

_leafscope_cli_json_strings()
{
    sed -n "s/^ *\"$1\" *: *\"\(.*\)\",\{0,1\}$/\1/p"
}

_leafscope_cli_classes()
{
    "$_leafscope_cli_program" "${_leafscope_cli_catalog[@]}" classes --json 2>/dev/null \
        | _leafscope_cli_json_strings name
}

_leafscope_cli_models()
{
    "$_leafscope_cli_program" "${_leafscope_cli_catalog[@]}" models list --json 2>/dev/null \
        | sed -n 's/^    "id" *: *\([0-9]*\),\{0,1\}$/\1/p'
}

# Completes the word being typed (COMPREPLY) from a list, one word per line.
_leafscope_cli_reply()
{
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "$1" -- "$2"))
}

_leafscope_cli_reply_value()
{
    local metavar=$1 cur=$2
    case $metavar in
        CLASS) _leafscope_cli_reply "$(_leafscope_cli_classes)" "$cur" ;;
        ID) _leafscope_cli_reply "$(_leafscope_cli_models)" "$cur" ;;
        DIR) local IFS=$'\n'; COMPREPLY=($(compgen -d -- "$cur")) ;;
        FILE | PATH | "") local IFS=$'\n'; COMPREPLY=($(compgen -f -- "$cur")) ;;
        *) COMPREPLY=() ;;
    esac
}

_leafscope_cli()
{
    local cur=${COMP_WORDS[COMP_CWORD]}
    local -a command=() positional=()
    local i word option="" value_of=""
    _leafscope_cli_program=${COMP_WORDS[0]}
    _leafscope_cli_catalog=()

    # Walk the words before the cursor: the catalog option, the subcommand (and the command of
    # models and weights), and the arguments after them.
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [[ -n $value_of ]]; then
            [[ $value_of == --catalog ]] && _leafscope_cli_catalog=(--catalog "$word")
            value_of=""
            continue
        fi
        case $word in
            --catalog) value_of=--catalog ;;
            --catalog=*) _leafscope_cli_catalog=(--catalog "${word#--catalog=}") ;;
            --device | --labeller) ((${#command[@]} == 0)) && value_of=$word ;;
            =) [[ ${COMP_WORDS[i - 1]} == --* ]] && value_of=${COMP_WORDS[i - 1]} ;;
            --*=*) ;;
            --*)
                # "--class VALUE": the next word is the option's, not an argument.
                _leafscope_cli_options "${command[@]}" | grep -qxF -- "$word=" && value_of=$word
                ;;
            -*) ;;
            *)
                if ((${#command[@]} == 0)) ||
                    { ((${#command[@]} == 1 && ${#positional[@]} == 0)) &&
                        [[ ${command[0]} == models || ${command[0]} == weights ]]; }; then
                    command+=("$word")
                else
                    positional+=("$word")
                fi
                ;;
        esac
    done

    # A value after "--option=" (bash splits at "=") or "--option VALUE".
    if [[ $cur == = ]]; then
        option=${COMP_WORDS[COMP_CWORD - 1]}
        cur=""
    elif [[ ${COMP_WORDS[COMP_CWORD - 1]} == = ]]; then
        option=${COMP_WORDS[COMP_CWORD - 2]}
    elif [[ $value_of == --* ]]; then
        option=$value_of
    fi
    if [[ -n $option ]]; then
        if [[ $option == --catalog ]]; then
            _leafscope_cli_reply_value FILE "$cur"
        elif [[ $option == --device ]] && ((${#command[@]} == 0)); then
            _leafscope_cli_reply "$(printf '%s\n' auto cpu cuda)" "$cur"
        elif [[ $option == --labeller ]] && ((${#command[@]} == 0)); then
            COMPREPLY=()
        else
            _leafscope_cli_reply_value "$(_leafscope_cli_metavar "$option" "${command[@]}")" "$cur"
        fi
        return
    fi

    if [[ $cur == -* ]]; then
        _leafscope_cli_reply "$(_leafscope_cli_options "${command[@]}")" "$cur"
        [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
        return
    fi
    if ((${#command[@]} == 0)); then
        _leafscope_cli_reply "$(_leafscope_cli_commands)" "$cur"
        return
    fi

    # Arguments that name a class or a model; the rest are files.
    case "${command[*]}" in
        models | weights)
            _leafscope_cli_reply "$(_leafscope_cli_commands "${command[0]}")" "$cur"
            ;;
        "models use" | "models rename" | "models remove" | "models export")
            if ((${#positional[@]} == 0)); then
                _leafscope_cli_reply "$(_leafscope_cli_models)" "$cur"
            else
                _leafscope_cli_reply_value FILE "$cur"
            fi
            ;;
        classes)
            if ((${#positional[@]} == 0)); then
                _leafscope_cli_reply "$(_leafscope_cli_verbs classes)" "$cur"
            elif ((${#positional[@]} == 1)) && [[ ${positional[0]} != add && ${positional[0]} != list ]]; then
                _leafscope_cli_reply "$(_leafscope_cli_classes)" "$cur"
            fi
            ;;
        adjudicate)
            if ((${#positional[@]} == 0)); then
                _leafscope_cli_reply "$(_leafscope_cli_classes)" "$cur"
            else
                _leafscope_cli_reply_value FILE "$cur"
            fi
            ;;
        label)
            if ((${#positional[@]} == 1)); then
                _leafscope_cli_reply "$(_leafscope_cli_classes)" "$cur"
            else
                _leafscope_cli_reply_value FILE "$cur"
            fi
            ;;
        *)
            _leafscope_cli_reply_value FILE "$cur"
            ;;
    esac
}

complete -F _leafscope_cli leafscope-cli
