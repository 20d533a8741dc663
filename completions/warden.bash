# bash completion for warden(1)                            -*- shell-script -*-
#
# Installed as <datadir>/bash-completion/completions/warden; or source it
# from ~/.bashrc.  Works with and without the bash-completion package (with
# it, commands after `warden run --` / `warden exec NAME --` are completed
# with their own completions).

# Names of the running sandboxes: the first column of `warden ps`, after the
# header line.
_warden_sandboxes()
{
	"${COMP_WORDS[0]}" ps 2>/dev/null | while read -r name _; do
		[[ $name == NAME ]] && continue
		printf '%s\n' "$name"
	done
}

# Policy files: *.yaml and *.yml, plus directories to descend into.
_warden_policy_files()
{
	local cur=$1
	compopt -o filenames 2>/dev/null
	COMPREPLY=($(compgen -f -X '!*.yaml' -- "$cur")
	    $(compgen -f -X '!*.yml' -- "$cur")
	    $(compgen -d -- "$cur"))
	# Nothing that looks like a policy: offer every file.
	((${#COMPREPLY[@]})) || COMPREPLY=($(compgen -f -- "$cur"))
}

_warden_dirs()
{
	compopt -o filenames 2>/dev/null
	COMPREPLY=($(compgen -d -- "$1"))
}

# NAME= for --env, from the caller's environment.
_warden_env_names()
{
	compopt -o nospace 2>/dev/null
	COMPREPLY=($(compgen -e -S = -- "$1"))
}

# Complete a command line that starts at word $1 (the agent's command).
_warden_command_at()
{
	local start=$1
	if declare -F _command_offset >/dev/null; then
		_command_offset "$start"
	elif ((COMP_CWORD == start)); then
		COMPREPLY=($(compgen -c -- "${COMP_WORDS[COMP_CWORD]}"))
	else
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "${COMP_WORDS[COMP_CWORD]}"))
	fi
}

_warden()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmd="" cmd_i=0 i w

	COMPREPLY=()

	# readline splits "--opt=value" at '=': "--opt" "=" "value".
	local eqopt=""
	if [[ $cur == = ]]; then
		eqopt=$prev
		cur=""
	elif [[ $prev == = ]] && ((COMP_CWORD >= 2)); then
		eqopt=${COMP_WORDS[COMP_CWORD-2]}
	fi

	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-*) ;;
		*)
			cmd=$w
			cmd_i=$i
			break
			;;
		esac
	done

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '--help --version' -- "$cur"))
		else
			COMPREPLY=($(compgen -W 'run exec ps inspect stop policy logs audit approvals approve deny help version' -- "$cur"))
		fi
		return
	fi

	case $cmd in
	run)
		case $eqopt in
		--policy) _warden_policy_files "$cur"; return ;;
		--workdir) _warden_dirs "$cur"; return ;;
		--env) _warden_env_names "$cur"; return ;;
		--name | --add-host) return ;;
		--audit-log | --upstream-ca) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return ;;
		esac
		# Options stop at `--` or at the first non-option word (the command).
		for ((i = cmd_i + 1; i < COMP_CWORD; i++)); do
			w=${COMP_WORDS[i]}
			case $w in
			--)
				_warden_command_at $((i + 1))
				return
				;;
			-p | --policy | -n | --name | -w | --workdir | -e | --env | --add-host | --audit-log | --upstream-ca)
				# The value, or "=" "value" for --opt=value.
				if [[ ${COMP_WORDS[i+1]} == = ]]; then
					((i += 2))
				else
					((i++))
				fi
				;;
			=)
				((i++))	# -e NAME=VALUE arrives as NAME "=" VALUE
				;;
			-*) ;;
			*)
				_warden_command_at "$i"
				return
				;;
			esac
		done
		# A value after '=' (-e NAME=VALUE, --name=NAME): nothing to offer.
		[[ -n $eqopt ]] && return
		case $prev in
		-p | --policy) _warden_policy_files "$cur"; return ;;
		-w | --workdir) _warden_dirs "$cur"; return ;;
		-e | --env) _warden_env_names "$cur"; return ;;
		-n | --name | --add-host) return ;;
		--audit-log | --upstream-ca) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); return ;;
		esac
		if [[ $cur == -* ]]; then
			compopt +o nospace 2>/dev/null
			COMPREPLY=($(compgen -W '-p --policy -n --name -w --workdir -e --env --add-host --audit-log
			    --upstream-ca -t --tty -T --no-tty -v --verbose -h --help --' -- "$cur"))
		else
			COMPREPLY=($(compgen -c -- "$cur"))
		fi
		;;
	exec)
		local name_i=0
		for ((i = cmd_i + 1; i < COMP_CWORD; i++)); do
			w=${COMP_WORDS[i]}
			if ((name_i)); then
				# After the sandbox name: an optional `--`, then the command.
				if [[ $w == -- && i -eq name_i+1 ]]; then
					_warden_command_at $((i + 1))
				else
					_warden_command_at "$i"
				fi
				return
			fi
			case $w in
			-e | --env) ((i++)) ;;
			=) ((i++)) ;;	# -e NAME=VALUE arrives as NAME "=" VALUE
			-*) ;;
			*) name_i=$i ;;
			esac
		done
		if ((name_i)); then
			# Right after the name.
			if [[ $cur == -* ]]; then
				COMPREPLY=($(compgen -W '--' -- "$cur"))
			else
				COMPREPLY=($(compgen -c -- "$cur"))
			fi
			return
		fi
		[[ -n $eqopt ]] && return
		case $prev in
		-e | --env) _warden_env_names "$cur"; return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '-e --env -h --help' -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_warden_sandboxes)" -- "$cur"))
		fi
		;;
	approvals)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '-f --follow --json -h --help' -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_warden_sandboxes)" -- "$cur"))
		fi
		;;
	approve | deny)
		# The ids: from `warden approvals --json` of every running sandbox.
		[[ $prev == --for || $prev == --reason ]] && return
		if [[ $cur == -* ]]; then
			if [[ $cmd == approve ]]; then
				COMPREPLY=($(compgen -W '--once --for --always -h --help' -- "$cur"))
			else
				COMPREPLY=($(compgen -W '--reason -h --help' -- "$cur"))
			fi
		else
			COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" approvals --json 2>/dev/null |
			    sed -n 's/^{"id":"\([ph]-[0-9a-f]*\)".*/\1/p')" -- "$cur"))
		fi
		;;
	inspect)
		for ((i = cmd_i + 1; i < COMP_CWORD; i++)); do
			[[ ${COMP_WORDS[i]} == -* ]] || return	# name already given
		done
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '--json -h --help' -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_warden_sandboxes)" -- "$cur"))
		fi
		;;
	stop)
		[[ $prev == -t ]] && return	# seconds
		for ((i = cmd_i + 1; i < COMP_CWORD; i++)); do
			case ${COMP_WORDS[i]} in
			-t) ((i++)) ;;
			-*) ;;
			*) return ;;	# name already given
			esac
		done
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '-t -h --help' -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(_warden_sandboxes)" -- "$cur"))
		fi
		;;
	policy)
		local sub="" sub_i=0
		for ((i = cmd_i + 1; i < COMP_CWORD; i++)); do
			case ${COMP_WORDS[i]} in
			-*) ;;
			*)
				sub=${COMP_WORDS[i]}
				sub_i=$i
				break
				;;
			esac
		done
		if [[ -z $sub ]]; then
			if [[ $cur == -* ]]; then
				COMPREPLY=($(compgen -W '-h --help' -- "$cur"))
			else
				COMPREPLY=($(compgen -W 'check show set default' -- "$cur"))
			fi
			return
		fi
		case $sub in
		check)
			((COMP_CWORD == sub_i + 1)) && _warden_policy_files "$cur"
			;;
		show)
			if ((COMP_CWORD == sub_i + 1)); then
				_warden_policy_files "$cur"
				COMPREPLY+=($(compgen -W "$(_warden_sandboxes)" -- "$cur"))
			fi
			;;
		set)
			if ((COMP_CWORD == sub_i + 1)); then
				COMPREPLY=($(compgen -W "$(_warden_sandboxes)" -- "$cur"))
			elif ((COMP_CWORD == sub_i + 2)); then
				_warden_policy_files "$cur"
			fi
			;;
		esac
		;;
	ps)
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W '-h --help' -- "$cur"))
		;;
	logs)
		[[ $prev == --since ]] && return
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '-f --follow --json --ocsf --since -h --help' -- "$cur"))
		else
			compopt -o filenames 2>/dev/null
			COMPREPLY=($(compgen -W "$(_warden_sandboxes)" -- "$cur") $(compgen -f -X '!*.jsonl' -- "$cur"))
		fi
		;;
	audit)
		if ((COMP_CWORD == cmd_i + 1)); then
			COMPREPLY=($(compgen -W 'verify export' -- "$cur"))
		elif [[ $prev == --format ]]; then
			COMPREPLY=($(compgen -W 'ocsf' -- "$cur"))
		elif [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '--key --format -h --help' -- "$cur"))
		else
			compopt -o filenames 2>/dev/null
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		;;
	esac
}

complete -F _warden warden
