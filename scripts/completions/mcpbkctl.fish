# fish completion for mcpbkctl. Installed as
# <prefix>/share/fish/vendor_completions.d/mcpbkctl.fish.

set -l commands status hosts list show cat diff restore snapshot pin unpin prune verify events export import doctor
set -l hosts claude-desktop claude-code vscode vscode-insiders cursor lmstudio gemini windsurf zed codex cline roo-code continue goose amazon-q kiro opencode junie copilot-cli copilot-jetbrains

# The ids of the newest snapshots, quietly: nothing when mcpbkctl is missing or
# fails. Passes on the global options that locate the daemon.
function __mcpbkctl_snapshot_ids
    set -l located
    set -l tokens (commandline -opc)
    set -e tokens[1]
    while set -q tokens[1]
        switch $tokens[1]
            case --socket --config --state-dir
                if set -q tokens[2]
                    set -a located $tokens[1] $tokens[2]
                    set -e tokens[1]
                end
            case '--socket=*' '--config=*' '--state-dir=*'
                set -a located $tokens[1]
        end
        set -e tokens[1]
    end
    command mcpbkctl $located list --json --limit 50 2>/dev/null </dev/null |
        string match -ra '"id": *[0-9]+' | string match -ra '[0-9]+$'
end

complete -c mcpbkctl -f

# Global options.
complete -c mcpbkctl -l json -d 'Print one JSON object'
complete -c mcpbkctl -n "not __fish_seen_subcommand_from $commands" -l version -d 'Print the version'
complete -c mcpbkctl -l socket -r -F -d 'Daemon socket'
complete -c mcpbkctl -l config -r -F -d 'Config file'
complete -c mcpbkctl -l state-dir -r -a '(__fish_complete_directories)' -d 'State directory'
complete -c mcpbkctl -s h -l help -d 'Print help'

# Commands.
set -l no_cmd "not __fish_seen_subcommand_from $commands"
complete -c mcpbkctl -n $no_cmd -a status -d 'Daemon, store and watch status'
complete -c mcpbkctl -n $no_cmd -a hosts -d 'Known hosts, their files and snapshot counts'
complete -c mcpbkctl -n $no_cmd -a list -d 'Snapshots, newest first'
complete -c mcpbkctl -n $no_cmd -a show -d "A snapshot's metadata and servers"
complete -c mcpbkctl -n $no_cmd -a cat -d "A snapshot's exact bytes on stdout"
complete -c mcpbkctl -n $no_cmd -a diff -d 'A snapshot against the current file, or two snapshots'
complete -c mcpbkctl -n $no_cmd -a restore -d 'Write a snapshot back'
complete -c mcpbkctl -n $no_cmd -a snapshot -d 'Take a manual snapshot now'
complete -c mcpbkctl -n $no_cmd -a pin -d 'Exempt a snapshot from retention'
complete -c mcpbkctl -n $no_cmd -a unpin -d 'Return a snapshot to retention'
complete -c mcpbkctl -n $no_cmd -a prune -d 'Apply retention now'
complete -c mcpbkctl -n $no_cmd -a verify -d 'Check every blob hash and the database'
complete -c mcpbkctl -n $no_cmd -a events -d 'The event log'
complete -c mcpbkctl -n $no_cmd -a export -d 'Write a portable bundle'
complete -c mcpbkctl -n $no_cmd -a import -d 'Read a portable bundle'
complete -c mcpbkctl -n $no_cmd -a doctor -d 'Check the installation and the daemon'

# Snapshot ids.
complete -c mcpbkctl -n '__fish_seen_subcommand_from show cat diff restore pin unpin' -a '(__mcpbkctl_snapshot_ids)' -d 'Snapshot'

# Command options.
complete -c mcpbkctl -n '__fish_seen_subcommand_from list restore snapshot export' -l host -x -a "$hosts" -d 'Host'
complete -c mcpbkctl -n '__fish_seen_subcommand_from list restore' -l path -r -F -d 'File'
complete -c mcpbkctl -n '__fish_seen_subcommand_from list' -l since -x -d 'Taken at or after this ISO 8601 time'
complete -c mcpbkctl -n '__fish_seen_subcommand_from list' -l newer-than -x -d 'Taken within this duration (30m, 2h, 7d)'
complete -c mcpbkctl -n '__fish_seen_subcommand_from list events' -l limit -x -d 'At most N'
complete -c mcpbkctl -n '__fish_seen_subcommand_from show diff restore' -l show-secrets -d 'Do not mask secret values'
complete -c mcpbkctl -n '__fish_seen_subcommand_from restore' -l to -r -F -d 'Write to this path instead'
complete -c mcpbkctl -n '__fish_seen_subcommand_from restore prune' -l dry-run -d 'Change nothing'
complete -c mcpbkctl -n '__fish_seen_subcommand_from restore' -l only-mcp -d 'Replace only the MCP server maps'
complete -c mcpbkctl -n '__fish_seen_subcommand_from restore' -s y -l yes -d 'Do not ask'
complete -c mcpbkctl -n '__fish_seen_subcommand_from restore' -l last-good -d 'The newest good snapshot of --host or --path'
complete -c mcpbkctl -n '__fish_seen_subcommand_from snapshot' -F -d 'File'
complete -c mcpbkctl -n '__fish_seen_subcommand_from snapshot' -l note -x -d 'A note; noted snapshots are pinned'
complete -c mcpbkctl -n '__fish_seen_subcommand_from events' -s f -l follow -d 'Stream new events'
complete -c mcpbkctl -n '__fish_seen_subcommand_from export' -s o -l output -r -F -d 'Bundle file'
complete -c mcpbkctl -n '__fish_seen_subcommand_from export' -l redact -d 'Mask secret values'
complete -c mcpbkctl -n '__fish_seen_subcommand_from import' -F -d 'Bundle file'
complete -c mcpbkctl -n '__fish_seen_subcommand_from import' -l on-conflict -x -a 'skip rename fail' -d 'What to do with existing snapshots'
