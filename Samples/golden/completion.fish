function __ckpt_should_offer_completions_for_flags_or_options -a expected_commands
    set -l non_repeating_flags_or_options $argv[2..]
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __ckpt_parse_tokens
    test "$commands" = "$expected_commands"; and return $non_repeating_flags_or_options_absent
end

function __ckpt_should_offer_completions_for_positional -a expected_commands positional_index_comparison expected_positional_index
    set -l non_repeating_flags_or_options
    set -l non_repeating_flags_or_options_absent 0
    set -l positional_index 0
    set -l commands
    __ckpt_parse_tokens
    test "$commands" = "$expected_commands" -a \( "$positional_index" "$positional_index_comparison" "$expected_positional_index" \)
end

function __ckpt_parse_tokens -S
    set -l unparsed_tokens (__ckpt_tokens -pc)
    switch $unparsed_tokens[1]
    case 'ckpt'
        __ckpt_parse_subcommand 0 'version' 'h/help'
        switch $unparsed_tokens[1]
        case 'inspect'
            __ckpt_parse_subcommand 1 'from=' 'architecture=' 'json' 'filter=' 'stats' 'tensor=' 'values=' 'format=' 'o/output=' 'force' 'config' 'layer=' 'verify' 'report=' 'lenient' 'allow-sparse' 'color=' 'progress' 'no-progress' 'wide' 'version' 'h/help'
        case 'diff'
            __ckpt_parse_subcommand 2 'atol=' 'rtol=' 'exact' 'nan=' 'map=+' 'strip-prefix=+' 'weights-only' 'include-optimizer' 'full' 'strict' 'filter=' 'tensor=+' 'only-changed' 'q/quiet' 'json' 'no-bars' 'from-a=' 'from-b=' 'architecture=' 'report=' 'force' 'allow-sparse' 'color=' 'progress' 'no-progress' 'wide' 'version' 'h/help'
        case 'strip'
            __ckpt_parse_subcommand 1 'o/output=' 'from=' 'to=' 'architecture=' 'keep-architecture' 'force' 'verify' 'full' 'skip-unsupported' 'json' 'allow-sparse' 'color=' 'progress' 'no-progress' 'wide' 'version' 'h/help'
        case 'rebuild'
            __ckpt_parse_subcommand 1 'architecture=' 'optimizer=' 'learning-rate=' 'set=+' 'optimizer-config=' 'o/output=' 'from=' 'backend=' 'loss-scale=' 'allow-unknown-layers' 'non-trainable=+' 'skip-mismatch' 'force' 'json' 'allow-sparse' 'color=' 'progress' 'no-progress' 'wide' 'version' 'h/help'
        case 'convert'
            __ckpt_parse_subcommand 2 'from=' 'to=' 'architecture=' 'strip-prefix=' 'meta=+' 'max-shard-size=' 'dequantize' 'skip-unsupported' 'force' 'allow-sparse' 'color=' 'progress' 'no-progress' 'wide' 'version' 'h/help'
        case 'help'
            __ckpt_parse_subcommand -r 1 'version'
        end
    end
end

function __ckpt_tokens
    if test (string split -m 1 -f 1 -- . "$FISH_VERSION") -gt 3
        commandline --tokens-raw $argv
    else
        commandline -o $argv
    end
end

function __ckpt_parse_subcommand -S -a positional_count
    argparse -s r -- $argv
    set -l option_specs $argv[2..]
    set -l is_repeating_positional $_flag_r
    set -el _flag_r
    set -a commands $unparsed_tokens[1]
    set positional_index 0
    while true
        set -e unparsed_tokens[1]
        argparse -sn "$commands" $option_specs -- $unparsed_tokens 2> /dev/null
        set unparsed_tokens $argv
        set positional_index (math $positional_index + 1)
        for non_repeating_flag_or_option in $non_repeating_flags_or_options
            if set -ql "_flag_$(string replace -a - _ -- $non_repeating_flag_or_option)"
                set non_repeating_flags_or_options_absent 1
                break
            end
        end
        test (count $unparsed_tokens) -eq 0 -o \( -z "$is_repeating_positional" -a "$positional_index" -gt "$positional_count" \) && break
    end
end

function __ckpt_complete_directories
    set -l token (commandline -t)
    string match -- '*/' $token
    set -l subdirs $token*/
    printf %s\n $subdirs
end

function __ckpt_custom_completion
    set -x SAP_SHELL fish
    set -x SAP_SHELL_VERSION $FISH_VERSION
    set -l tokens (__ckpt_tokens -p)
    if test -z "$(__ckpt_tokens -t)"
        set -l index (count (__ckpt_tokens -pc))
        set tokens $tokens[..$index] \'\' $tokens[(math $index + 1)..]
    end
    command $tokens[1] $argv $tokens
end

complete -c 'ckpt' -f
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt" version' -l 'version' -d 'Show the version.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_positional "ckpt" -eq 1' -fa 'inspect' -d 'Show what a checkpoint holds, without loading a framework.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_positional "ckpt" -eq 1' -fa 'diff' -d 'Compare two checkpoints tensor by tensor: what an epoch changed, whether two exports are the same.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_positional "ckpt" -eq 1' -fa 'strip' -d 'Write a weights-only checkpoint: every weight, no optimizer state.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_positional "ckpt" -eq 1' -fa 'rebuild' -d 'Weights + a Keras architecture JSON + a fresh optimizer → a full checkpoint.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_positional "ckpt" -eq 1' -fa 'convert' -d 'Convert a checkpoint between .ckpt, .npz, .safetensors, Keras and TensorFlow formats.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_positional "ckpt" -eq 1' -fa 'help' -d 'Show subcommand help information.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_positional "ckpt inspect" -eq 1' -fa '(set -l exts \'ckpt\' \'npz\' \'safetensors\' \'json\' \'keras\' \'h5\' \'hdf5\' \'gguf\' \'pt\' \'pth\' \'index\';for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.{$exts};printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" from' -l 'from' -d 'Read the file as this format: ckpt, npz, safetensors, keras, weights.h5, h5.' -rfka 'ckpt npz safetensors keras weights.h5 h5 weights.json gguf pytorch tf-checkpoint saved-model'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" architecture' -l 'architecture' -d 'Architecture JSON (model.to_json()) for a bare .weights.h5.' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" json' -l 'json' -d 'Print JSON (schema ckpt.inspect/1) instead of tables.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" filter' -l 'filter' -d 'Only tensors whose name matches this glob (*, ?, [...]).' -rfka ''
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" stats' -l 'stats' -d 'Per-tensor min, max, mean, std, zeros, NaN and Inf counts, and a histogram (reads all data).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" tensor' -l 'tensor' -d 'Show one tensor.' -rfka ''
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" values' -l 'values' -d 'With --tensor: print the first N values (row-major), or a numpy slice such as \'[0:4, -3:]\' laid out as numpy prints it.' -rfka ''
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" format' -l 'format' -d 'With --tensor and -o: write the tensor (or the --values slice) as npy, raw (bytes, little-endian) or csv.' -rfka ''
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" o output' -s 'o' -l 'output' -d 'With --format: the file to write.' -rF
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" force' -l 'force' -d 'With -o or --report: replace an existing output file.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" config' -l 'config' -d 'Print the architecture (model.to_json(), with the compile config) and the optimizer\'s configuration as formatted JSON.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" layer' -l 'layer' -d 'Show one layer: its configuration (JSON) and its tensors.' -rfka ''
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" verify' -l 'verify' -d 'Read every tensor in full, checking sizes, structure and whatever checksum the format keeps (CRC-32, fletcher32), and say which; adds each tensor\'s SHA-256 to --json; exit 2 on any mismatch.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" report' -l 'report' -d 'Also write a self-contained HTML page (summary, charts, tables; histograms with --stats) to this file; - for stdout.' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'html\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" lenient' -l 'lenient' -d 'PyTorch files: show objects the pickle names outside the tensor allow-list as placeholders instead of refusing the file (nothing is run either way).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" allow-sparse' -l 'allow-sparse' -d 'Read HDF5 datasets whose data the file does not store (never-written chunks, made up from the fill value); refused without it.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" color' -l 'color' -d 'Colour output: auto (on a terminal, unless NO_COLOR is set), always, never.' -rfka 'auto always never'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" progress' -l 'progress' -d 'Show a progress bar on stderr (default: only when stderr is a terminal).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" no-progress' -l 'no-progress' -d 'Show a progress bar on stderr (default: only when stderr is a terminal).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" wide' -l 'wide' -d 'Print tables at full width; by default they fit the terminal (COLUMNS), dropping or shortening the least important columns.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" version' -l 'version' -d 'Show the version.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt inspect" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_positional "ckpt diff" -eq 1' -fa '(set -l exts \'ckpt\' \'npz\' \'safetensors\' \'json\' \'keras\' \'h5\' \'hdf5\' \'gguf\' \'pt\' \'pth\' \'index\';for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.{$exts};printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_positional "ckpt diff" -eq 2' -fa '(set -l exts \'ckpt\' \'npz\' \'safetensors\' \'json\' \'keras\' \'h5\' \'hdf5\' \'gguf\' \'pt\' \'pth\' \'index\';for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.{$exts};printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" atol' -l 'atol' -d 'Absolute tolerance for floating-point tensors (default: per dtype, listed above).' -rfka ''
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" rtol' -l 'rtol' -d 'Relative tolerance for floating-point tensors, against B (default: per dtype).' -rfka ''
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" exact' -l 'exact' -d 'No tolerance: any change of a value is a difference (--atol 0 --rtol 0).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" nan' -l 'nan' -d 'NaN against NaN: equal (like h5diff) or a difference.' -rfka 'equal differ'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff"' -l 'map' -d 'Pair A\'s tensor OLD (or every OLD/...) with B\'s NEW (repeatable). An empty NEW removes the prefix.' -rfka ''
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff"' -l 'strip-prefix' -d 'Remove this prefix from tensor names on both sides, e.g. sequential/ (repeatable).' -rfka ''
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" weights-only' -l 'weights-only' -d 'Compare weights only: no optimizer tensors, architecture or optimizer configuration.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" include-optimizer' -l 'include-optimizer' -d 'Also compare the optimizer\'s tensors (slots, iteration, learning rate) value by value.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" full' -l 'full' -d 'Read and compare every tensor\'s bytes, even those whose CRC-32 and size are equal in both indexes.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" strict' -l 'strict' -d 'Count differences in what one side\'s format cannot hold (architecture, optimizer configuration) as differences.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" filter' -l 'filter' -d 'Only tensors whose name (after --map/--strip-prefix) matches this glob (*, ?, [...]).' -rfka ''
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff"' -l 'tensor' -d 'Only this tensor (repeatable).' -rfka ''
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" only-changed' -l 'only-changed' -d 'Hide tensors and layers that are identical or within tolerance.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" q quiet' -s 'q' -l 'quiet' -d 'No output: only the exit status (stops at the first difference).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" json' -l 'json' -d 'Print JSON (schema ckpt.diff/1) instead of tables.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" no-bars' -l 'no-bars' -d 'Leave out the per-layer bars of relative change.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" from-a' -l 'from-a' -d 'Read A as this format: ckpt, npz, safetensors, keras, weights.h5, h5.' -rfka 'ckpt npz safetensors keras weights.h5 h5 weights.json gguf pytorch tf-checkpoint saved-model'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" from-b' -l 'from-b' -d 'Read B as this format.' -rfka 'ckpt npz safetensors keras weights.h5 h5 weights.json gguf pytorch tf-checkpoint saved-model'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" architecture' -l 'architecture' -d 'Architecture JSON (model.to_json()) for inputs that lack one (a bare .weights.h5).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" report' -l 'report' -d 'Also write a self-contained HTML page (verdict, per-layer chart, tables) to this file; - for stdout.' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'html\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" force' -l 'force' -d 'With --report: replace the file if it exists.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" allow-sparse' -l 'allow-sparse' -d 'Read HDF5 datasets whose data the file does not store (never-written chunks, made up from the fill value); refused without it.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" color' -l 'color' -d 'Colour output: auto (on a terminal, unless NO_COLOR is set), always, never.' -rfka 'auto always never'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" progress' -l 'progress' -d 'Show a progress bar on stderr (default: only when stderr is a terminal).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" no-progress' -l 'no-progress' -d 'Show a progress bar on stderr (default: only when stderr is a terminal).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" wide' -l 'wide' -d 'Print tables at full width; by default they fit the terminal (COLUMNS), dropping or shortening the least important columns.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" version' -l 'version' -d 'Show the version.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt diff" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_positional "ckpt strip" -eq 1' -fa '(set -l exts \'ckpt\' \'npz\' \'safetensors\' \'json\' \'keras\' \'h5\' \'hdf5\' \'gguf\' \'pt\' \'pth\' \'index\';for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.{$exts};printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt strip" o output' -l 'output' -s 'o' -d 'Where to write the weights-only checkpoint (.ckpt, .npz, .safetensors, .weights.h5).' -rfa '(set -l exts \'ckpt\' \'npz\' \'safetensors\' \'json\' \'keras\' \'h5\' \'hdf5\' \'gguf\' \'pt\' \'pth\' \'index\';for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.{$exts};printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt strip" from' -l 'from' -d 'Read the input as this format.' -rfka 'ckpt npz safetensors keras weights.h5 h5 weights.json gguf pytorch tf-checkpoint saved-model'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt strip" to' -l 'to' -d 'Write the output as this format (default: from its extension).' -rfka 'ckpt npz safetensors keras weights.h5 h5 weights.json gguf pytorch tf-checkpoint saved-model'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt strip" architecture' -l 'architecture' -d 'Architecture JSON for an input that lacks one (a bare .weights.h5).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt strip" keep-architecture' -l 'keep-architecture' -d 'Keep the architecture JSON in the output.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt strip" force' -l 'force' -d 'Replace the output if it exists (never the input).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt strip" verify' -l 'verify' -d 'Re-read the output and check every weight against the input: identical by checksum (CRC-32 and size) for copied .ckpt members, else byte for byte.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt strip" full' -l 'full' -d 'With --verify: compare every weight byte for byte, even where the checksums already agree.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt strip" skip-unsupported' -l 'skip-unsupported' -d 'Leave out entries of the input that are not tensors ckpt reads (listed by inspect) instead of refusing them.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt strip" json' -l 'json' -d 'Print a JSON summary (schema ckpt.strip/1).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt strip" allow-sparse' -l 'allow-sparse' -d 'Read HDF5 datasets whose data the file does not store (never-written chunks, made up from the fill value); refused without it.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt strip" color' -l 'color' -d 'Colour output: auto (on a terminal, unless NO_COLOR is set), always, never.' -rfka 'auto always never'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt strip" progress' -l 'progress' -d 'Show a progress bar on stderr (default: only when stderr is a terminal).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt strip" no-progress' -l 'no-progress' -d 'Show a progress bar on stderr (default: only when stderr is a terminal).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt strip" wide' -l 'wide' -d 'Print tables at full width; by default they fit the terminal (COLUMNS), dropping or shortening the least important columns.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt strip" version' -l 'version' -d 'Show the version.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt strip" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_positional "ckpt rebuild" -eq 1' -fa '(set -l exts \'ckpt\' \'npz\' \'safetensors\' \'json\' \'keras\' \'h5\' \'hdf5\' \'gguf\' \'pt\' \'pth\' \'index\';for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.{$exts};printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" architecture' -l 'architecture' -d 'The architecture JSON (model.to_json()); default: the one inside the weights file.' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" optimizer' -l 'optimizer' -d 'Keras optimizer class, case-insensitive (adam, sgd, rmsprop, adamw, ...).' -rfka 'sgd adam adamw rmsprop adagrad adadelta adamax nadam ftrl lion adafactor lamb schedulefreeadamw muon lossscaleoptimizer'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" learning-rate' -l 'learning-rate' -d 'The optimizer\'s learning rate.' -rfka ''
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild"' -l 'set' -d 'Another optimizer hyperparameter, KEY=VALUE (repeatable), e.g. --set momentum=0.9.' -rfka ''
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" optimizer-config' -l 'optimizer-config' -d 'Keras optimizer.get_config() JSON, or keras.optimizers.serialize() JSON (with class_name).' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" o output' -l 'output' -s 'o' -d 'Where to write the full checkpoint (.ckpt, .keras, .weights.h5).' -rfa '(set -l exts \'ckpt\' \'npz\' \'safetensors\' \'json\' \'keras\' \'h5\' \'hdf5\' \'gguf\' \'pt\' \'pth\' \'index\';for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.{$exts};printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" from' -l 'from' -d 'Read the weights as this format.' -rfka 'ckpt npz safetensors keras weights.h5 h5 weights.json gguf pytorch tf-checkpoint saved-model'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" backend' -l 'backend' -d 'The Keras backend the checkpoint is for: tensorflow (int64 step counter), jax or torch (int32).' -rfka 'tensorflow jax torch'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" loss-scale' -l 'loss-scale' -d 'Wrap the optimizer in a LossScaleOptimizer as compile does under mixed_float16: auto (when the layers compute in mixed_float16), yes or no.' -rfka 'auto yes no'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" allow-unknown-layers' -l 'allow-unknown-layers' -d 'Take the tensors of layers whose class is unknown from the weights as they are, where the layer sits in the model.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild"' -l 'non-trainable' -d 'With --allow-unknown-layers: tensors of unknown layers that are not trainable (glob, repeatable), e.g. \'scaled/vars/1\'.' -rfka ''
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" skip-mismatch' -l 'skip-mismatch' -d 'Leave out mismatched and unexpected tensors (listed) instead of failing.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" force' -l 'force' -d 'Replace the output if it exists (never the input).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" json' -l 'json' -d 'Print a JSON report (schema ckpt.rebuild/1).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" allow-sparse' -l 'allow-sparse' -d 'Read HDF5 datasets whose data the file does not store (never-written chunks, made up from the fill value); refused without it.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" color' -l 'color' -d 'Colour output: auto (on a terminal, unless NO_COLOR is set), always, never.' -rfka 'auto always never'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" progress' -l 'progress' -d 'Show a progress bar on stderr (default: only when stderr is a terminal).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" no-progress' -l 'no-progress' -d 'Show a progress bar on stderr (default: only when stderr is a terminal).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" wide' -l 'wide' -d 'Print tables at full width; by default they fit the terminal (COLUMNS), dropping or shortening the least important columns.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" version' -l 'version' -d 'Show the version.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt rebuild" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_positional "ckpt convert" -eq 1' -fa '(set -l exts \'ckpt\' \'npz\' \'safetensors\' \'json\' \'keras\' \'h5\' \'hdf5\' \'gguf\' \'pt\' \'pth\' \'index\';for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.{$exts};printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_positional "ckpt convert" -eq 2' -fa '(set -l exts \'ckpt\' \'npz\' \'safetensors\' \'json\' \'keras\' \'h5\' \'hdf5\' \'gguf\' \'pt\' \'pth\' \'index\';for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.{$exts};printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt convert" from' -l 'from' -d 'Input format: ckpt, npz, safetensors, keras, weights.h5, h5, weights.json, gguf, pytorch, tf-checkpoint, saved-model.' -rfka 'ckpt npz safetensors keras weights.h5 h5 weights.json gguf pytorch tf-checkpoint saved-model'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt convert" to' -l 'to' -d 'Output format: ckpt, npz, safetensors, keras, weights.h5, weights.json, tf-checkpoint.' -rfka 'ckpt npz safetensors keras weights.h5 h5 weights.json gguf pytorch tf-checkpoint saved-model'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt convert" architecture' -l 'architecture' -d 'Architecture JSON (model.to_json()) to pair with weights that lack one.' -rfa '(for p in (string match -e -- \'*/\' (commandline -t);or printf \n)*.\'json\';printf %s\n $p;end;__fish_complete_directories (commandline -t) \'\')'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt convert" strip-prefix' -l 'strip-prefix' -d 'Remove this prefix from tensor names (e.g. sequential/).' -rfka ''
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt convert"' -l 'meta' -d 'Add user metadata KEY=VALUE (repeatable; VALUE is JSON if it parses, else a string).' -rfka ''
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt convert" max-shard-size' -l 'max-shard-size' -d 'safetensors (.index.json) and Keras .weights.json output: split into shards of at most this size (e.g. 500MB, 2GB).' -rfka ''
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt convert" dequantize' -l 'dequantize' -d 'Write block-quantized tensors (GGUF Q4_K, Q8_0, …) as the float32 they decode to; without it they are refused.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt convert" skip-unsupported' -l 'skip-unsupported' -d 'Leave out entries of the input that are not tensors ckpt reads (complex or string .npy members, ...; inspect lists them) instead of refusing them; a note lists them.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt convert" force' -l 'force' -d 'Replace the output if it exists.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt convert" allow-sparse' -l 'allow-sparse' -d 'Read HDF5 datasets whose data the file does not store (never-written chunks, made up from the fill value); refused without it.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt convert" color' -l 'color' -d 'Colour output: auto (on a terminal, unless NO_COLOR is set), always, never.' -rfka 'auto always never'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt convert" progress' -l 'progress' -d 'Show a progress bar on stderr (default: only when stderr is a terminal).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt convert" no-progress' -l 'no-progress' -d 'Show a progress bar on stderr (default: only when stderr is a terminal).'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt convert" wide' -l 'wide' -d 'Print tables at full width; by default they fit the terminal (COLUMNS), dropping or shortening the least important columns.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt convert" version' -l 'version' -d 'Show the version.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt convert" h help' -s 'h' -l 'help' -d 'Show help information.'
complete -c 'ckpt' -n '__ckpt_should_offer_completions_for_flags_or_options "ckpt help" version' -l 'version' -d 'Show the version.'
