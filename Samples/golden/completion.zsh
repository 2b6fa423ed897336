#compdef ckpt

__ckpt_complete() {
    local -ar non_empty_completions=("${@:#(|:*)}")
    local -ar empty_completions=("${(M)@:#(|:*)}")
    _describe -V '' non_empty_completions -- empty_completions -P $'\'\''
}

__ckpt_custom_complete() {
    local -a completions
    completions=("${(@f)"$("${command_name}" "${@}" "${command_line[@]}")"}")
    if [[ "${#completions[@]}" -gt 1 ]]; then
        __ckpt_complete "${completions[@]:0:-1}"
    fi
}

__ckpt_cursor_index_in_current_word() {
    if [[ -z "${QIPREFIX}${IPREFIX}${PREFIX}" ]]; then
        printf 0
    else
        printf %s "${#${(z)LBUFFER}[-1]}"
    fi
}

_ckpt() {
    emulate -RL zsh -G
    setopt extendedglob nullglob numericglobsort
    unsetopt aliases banghist

    local -xr SAP_SHELL=zsh
    local -x SAP_SHELL_VERSION
    SAP_SHELL_VERSION="$(builtin emulate zsh -c 'printf %s "${ZSH_VERSION}"')"
    local -r SAP_SHELL_VERSION

    local context state state_descr line
    local -A opt_args

    local -r command_name="${words[1]}"
    local -ar command_line=("${words[@]}")
    local -ir current_word_index="$((CURRENT - 1))"

    local -i ret=1
    local -ar arg_specs=(
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
        '(-): :->command'
        '(-)*:: :->arg'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0
    case "${state}" in
    command)
        local -ar subcommands=(
            'inspect:Show what a checkpoint holds, without loading a framework.'
            'diff:Compare two checkpoints tensor by tensor: what an epoch changed, whether two exports are the same.'
            'strip:Write a weights-only checkpoint: every weight, no optimizer state.'
            'rebuild:Weights + a Keras architecture JSON + a fresh optimizer → a full checkpoint.'
            'convert:Convert a checkpoint between .ckpt, .npz, .safetensors, Keras and TensorFlow formats.'
            'help:Show subcommand help information.'
        )
        _describe -V subcommand subcommands && ret=0
        ;;
    arg)
        case "${words[1]}" in
        inspect|diff|strip|rebuild|convert|help)
            "_ckpt_${words[1]}" && ret=0
            ;;
        esac
        ;;
    esac

    return "${ret}"
}

_ckpt_inspect() {
    local -i ret=1
    local -ar ___from=('ckpt' 'npz' 'safetensors' 'keras' 'weights.h5' 'h5' 'weights.json' 'gguf' 'pytorch' 'tf-checkpoint' 'saved-model')
    local -ar ___color=('auto' 'always' 'never')
    local -ar arg_specs=(
        ':file:_files -g '\''*.ckpt *.npz *.safetensors *.json *.keras *.h5 *.hdf5 *.gguf *.pt *.pth *.index'\'''
        '--from[Read the file as this format\: ckpt, npz, safetensors, keras, weights.h5, h5.]:format:{__ckpt_complete "${___from[@]}"}'
        '--architecture[Architecture JSON (model.to_json()) for a bare .weights.h5.]:model.json:_files -g '\''*.json'\'''
        '--json[Print JSON (schema ckpt.inspect/1) instead of tables.]'
        '--filter[Only tensors whose name matches this glob (*, ?, \[...\]).]:glob:'
        '--stats[Per-tensor min, max, mean, std, zeros, NaN and Inf counts, and a histogram (reads all data).]'
        '--tensor[Show one tensor.]:name:'
        '--values[With --tensor\: print the first N values (row-major), or a numpy slice such as '\''\[0\:4, -3\:\]'\'' laid out as numpy prints it.]:N|slice:'
        '--format[With --tensor and -o\: write the tensor (or the --values slice) as npy, raw (bytes, little-endian) or csv.]:npy|raw|csv:'
        '(-o --output)'{-o,--output}'[With --format\: the file to write.]:file:_files'
        '--force[With -o or --report\: replace an existing output file.]'
        '--config[Print the architecture (model.to_json(), with the compile config) and the optimizer'\''s configuration as formatted JSON.]'
        '--layer[Show one layer\: its configuration (JSON) and its tensors.]:name:'
        '--verify[Read every tensor in full, checking sizes, structure and whatever checksum the format keeps (CRC-32, fletcher32), and say which; adds each tensor'\''s SHA-256 to --json; exit 2 on any mismatch.]'
        '--report[Also write a self-contained HTML page (summary, charts, tables; histograms with --stats) to this file; - for stdout.]:file.html:_files -g '\''*.html'\'''
        '--lenient[PyTorch files\: show objects the pickle names outside the tensor allow-list as placeholders instead of refusing the file (nothing is run either way).]'
        '--allow-sparse[Read HDF5 datasets whose data the file does not store (never-written chunks, made up from the fill value); refused without it.]'
        '--color[Colour output\: auto (on a terminal, unless NO_COLOR is set), always, never.]:color:{__ckpt_complete "${___color[@]}"}'
        '--progress[Show a progress bar on stderr (default\: only when stderr is a terminal).]'
        '--no-progress[Show a progress bar on stderr (default\: only when stderr is a terminal).]'
        '--wide[Print tables at full width; by default they fit the terminal (COLUMNS), dropping or shortening the least important columns.]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_ckpt_diff() {
    local -i ret=1
    local -ar ___nan=('equal' 'differ')
    local -ar ___from_a=('ckpt' 'npz' 'safetensors' 'keras' 'weights.h5' 'h5' 'weights.json' 'gguf' 'pytorch' 'tf-checkpoint' 'saved-model')
    local -ar ___from_b=('ckpt' 'npz' 'safetensors' 'keras' 'weights.h5' 'h5' 'weights.json' 'gguf' 'pytorch' 'tf-checkpoint' 'saved-model')
    local -ar ___color=('auto' 'always' 'never')
    local -ar arg_specs=(
        ':a:_files -g '\''*.ckpt *.npz *.safetensors *.json *.keras *.h5 *.hdf5 *.gguf *.pt *.pth *.index'\'''
        ':b:_files -g '\''*.ckpt *.npz *.safetensors *.json *.keras *.h5 *.hdf5 *.gguf *.pt *.pth *.index'\'''
        '--atol[Absolute tolerance for floating-point tensors (default\: per dtype, listed above).]:x:'
        '--rtol[Relative tolerance for floating-point tensors, against B (default\: per dtype).]:x:'
        '--exact[No tolerance\: any change of a value is a difference (--atol 0 --rtol 0).]'
        '--nan[NaN against NaN\: equal (like h5diff) or a difference.]:equal|differ:{__ckpt_complete "${___nan[@]}"}'
        '*--map[Pair A'\''s tensor OLD (or every OLD/...) with B'\''s NEW (repeatable). An empty NEW removes the prefix.]:old=new:'
        '*--strip-prefix[Remove this prefix from tensor names on both sides, e.g. sequential/ (repeatable).]:prefix:'
        '--weights-only[Compare weights only\: no optimizer tensors, architecture or optimizer configuration.]'
        '--include-optimizer[Also compare the optimizer'\''s tensors (slots, iteration, learning rate) value by value.]'
        '--full[Read and compare every tensor'\''s bytes, even those whose CRC-32 and size are equal in both indexes.]'
        '--strict[Count differences in what one side'\''s format cannot hold (architecture, optimizer configuration) as differences.]'
        '--filter[Only tensors whose name (after --map/--strip-prefix) matches this glob (*, ?, \[...\]).]:glob:'
        '*--tensor[Only this tensor (repeatable).]:name:'
        '--only-changed[Hide tensors and layers that are identical or within tolerance.]'
        '(-q --quiet)'{-q,--quiet}'[No output\: only the exit status (stops at the first difference).]'
        '--json[Print JSON (schema ckpt.diff/1) instead of tables.]'
        '--no-bars[Leave out the per-layer bars of relative change.]'
        '--from-a[Read A as this format\: ckpt, npz, safetensors, keras, weights.h5, h5.]:format:{__ckpt_complete "${___from_a[@]}"}'
        '--from-b[Read B as this format.]:format:{__ckpt_complete "${___from_b[@]}"}'
        '--architecture[Architecture JSON (model.to_json()) for inputs that lack one (a bare .weights.h5).]:model.json:_files -g '\''*.json'\'''
        '--report[Also write a self-contained HTML page (verdict, per-layer chart, tables) to this file; - for stdout.]:file.html:_files -g '\''*.html'\'''
        '--force[With --report\: replace the file if it exists.]'
        '--allow-sparse[Read HDF5 datasets whose data the file does not store (never-written chunks, made up from the fill value); refused without it.]'
        '--color[Colour output\: auto (on a terminal, unless NO_COLOR is set), always, never.]:color:{__ckpt_complete "${___color[@]}"}'
        '--progress[Show a progress bar on stderr (default\: only when stderr is a terminal).]'
        '--no-progress[Show a progress bar on stderr (default\: only when stderr is a terminal).]'
        '--wide[Print tables at full width; by default they fit the terminal (COLUMNS), dropping or shortening the least important columns.]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_ckpt_strip() {
    local -i ret=1
    local -ar ___from=('ckpt' 'npz' 'safetensors' 'keras' 'weights.h5' 'h5' 'weights.json' 'gguf' 'pytorch' 'tf-checkpoint' 'saved-model')
    local -ar ___to=('ckpt' 'npz' 'safetensors' 'keras' 'weights.h5' 'h5' 'weights.json' 'gguf' 'pytorch' 'tf-checkpoint' 'saved-model')
    local -ar ___color=('auto' 'always' 'never')
    local -ar arg_specs=(
        ':full:_files -g '\''*.ckpt *.npz *.safetensors *.json *.keras *.h5 *.hdf5 *.gguf *.pt *.pth *.index'\'''
        '(--output -o)'{--output,-o}'[Where to write the weights-only checkpoint (.ckpt, .npz, .safetensors, .weights.h5).]:weights:_files -g '\''*.ckpt *.npz *.safetensors *.json *.keras *.h5 *.hdf5 *.gguf *.pt *.pth *.index'\'''
        '--from[Read the input as this format.]:format:{__ckpt_complete "${___from[@]}"}'
        '--to[Write the output as this format (default\: from its extension).]:format:{__ckpt_complete "${___to[@]}"}'
        '--architecture[Architecture JSON for an input that lacks one (a bare .weights.h5).]:model.json:_files -g '\''*.json'\'''
        '--keep-architecture[Keep the architecture JSON in the output.]'
        '--force[Replace the output if it exists (never the input).]'
        '--verify[Re-read the output and check every weight against the input\: identical by checksum (CRC-32 and size) for copied .ckpt members, else byte for byte.]'
        '--full[With --verify\: compare every weight byte for byte, even where the checksums already agree.]'
        '--skip-unsupported[Leave out entries of the input that are not tensors ckpt reads (listed by inspect) instead of refusing them.]'
        '--json[Print a JSON summary (schema ckpt.strip/1).]'
        '--allow-sparse[Read HDF5 datasets whose data the file does not store (never-written chunks, made up from the fill value); refused without it.]'
        '--color[Colour output\: auto (on a terminal, unless NO_COLOR is set), always, never.]:color:{__ckpt_complete "${___color[@]}"}'
        '--progress[Show a progress bar on stderr (default\: only when stderr is a terminal).]'
        '--no-progress[Show a progress bar on stderr (default\: only when stderr is a terminal).]'
        '--wide[Print tables at full width; by default they fit the terminal (COLUMNS), dropping or shortening the least important columns.]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_ckpt_rebuild() {
    local -i ret=1
    local -ar ___optimizer=('sgd' 'adam' 'adamw' 'rmsprop' 'adagrad' 'adadelta' 'adamax' 'nadam' 'ftrl' 'lion' 'adafactor' 'lamb' 'schedulefreeadamw' 'muon' 'lossscaleoptimizer')
    local -ar ___from=('ckpt' 'npz' 'safetensors' 'keras' 'weights.h5' 'h5' 'weights.json' 'gguf' 'pytorch' 'tf-checkpoint' 'saved-model')
    local -ar ___backend=('tensorflow' 'jax' 'torch')
    local -ar ___loss_scale=('auto' 'yes' 'no')
    local -ar ___color=('auto' 'always' 'never')
    local -ar arg_specs=(
        ':weights:_files -g '\''*.ckpt *.npz *.safetensors *.json *.keras *.h5 *.hdf5 *.gguf *.pt *.pth *.index'\'''
        '--architecture[The architecture JSON (model.to_json()); default\: the one inside the weights file.]:model.json:_files -g '\''*.json'\'''
        '--optimizer[Keras optimizer class, case-insensitive (adam, sgd, rmsprop, adamw, ...).]:name:{__ckpt_complete "${___optimizer[@]}"}'
        '--learning-rate[The optimizer'\''s learning rate.]:rate:'
        '*--set[Another optimizer hyperparameter, KEY=VALUE (repeatable), e.g. --set momentum=0.9.]:key=value:'
        '--optimizer-config[Keras optimizer.get_config() JSON, or keras.optimizers.serialize() JSON (with class_name).]:opt.json:_files -g '\''*.json'\'''
        '(--output -o)'{--output,-o}'[Where to write the full checkpoint (.ckpt, .keras, .weights.h5).]:full:_files -g '\''*.ckpt *.npz *.safetensors *.json *.keras *.h5 *.hdf5 *.gguf *.pt *.pth *.index'\'''
        '--from[Read the weights as this format.]:format:{__ckpt_complete "${___from[@]}"}'
        '--backend[The Keras backend the checkpoint is for\: tensorflow (int64 step counter), jax or torch (int32).]:backend:{__ckpt_complete "${___backend[@]}"}'
        '--loss-scale[Wrap the optimizer in a LossScaleOptimizer as compile does under mixed_float16\: auto (when the layers compute in mixed_float16), yes or no.]:when:{__ckpt_complete "${___loss_scale[@]}"}'
        '--allow-unknown-layers[Take the tensors of layers whose class is unknown from the weights as they are, where the layer sits in the model.]'
        '*--non-trainable[With --allow-unknown-layers\: tensors of unknown layers that are not trainable (glob, repeatable), e.g. '\''scaled/vars/1'\''.]:pattern:'
        '--skip-mismatch[Leave out mismatched and unexpected tensors (listed) instead of failing.]'
        '--force[Replace the output if it exists (never the input).]'
        '--json[Print a JSON report (schema ckpt.rebuild/1).]'
        '--allow-sparse[Read HDF5 datasets whose data the file does not store (never-written chunks, made up from the fill value); refused without it.]'
        '--color[Colour output\: auto (on a terminal, unless NO_COLOR is set), always, never.]:color:{__ckpt_complete "${___color[@]}"}'
        '--progress[Show a progress bar on stderr (default\: only when stderr is a terminal).]'
        '--no-progress[Show a progress bar on stderr (default\: only when stderr is a terminal).]'
        '--wide[Print tables at full width; by default they fit the terminal (COLUMNS), dropping or shortening the least important columns.]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_ckpt_convert() {
    local -i ret=1
    local -ar ___from=('ckpt' 'npz' 'safetensors' 'keras' 'weights.h5' 'h5' 'weights.json' 'gguf' 'pytorch' 'tf-checkpoint' 'saved-model')
    local -ar ___to=('ckpt' 'npz' 'safetensors' 'keras' 'weights.h5' 'h5' 'weights.json' 'gguf' 'pytorch' 'tf-checkpoint' 'saved-model')
    local -ar ___color=('auto' 'always' 'never')
    local -ar arg_specs=(
        ':input:_files -g '\''*.ckpt *.npz *.safetensors *.json *.keras *.h5 *.hdf5 *.gguf *.pt *.pth *.index'\'''
        ':output:_files -g '\''*.ckpt *.npz *.safetensors *.json *.keras *.h5 *.hdf5 *.gguf *.pt *.pth *.index'\'''
        '--from[Input format\: ckpt, npz, safetensors, keras, weights.h5, h5, weights.json, gguf, pytorch, tf-checkpoint, saved-model.]:format:{__ckpt_complete "${___from[@]}"}'
        '--to[Output format\: ckpt, npz, safetensors, keras, weights.h5, weights.json, tf-checkpoint.]:format:{__ckpt_complete "${___to[@]}"}'
        '--architecture[Architecture JSON (model.to_json()) to pair with weights that lack one.]:model.json:_files -g '\''*.json'\'''
        '--strip-prefix[Remove this prefix from tensor names (e.g. sequential/).]:prefix:'
        '*--meta[Add user metadata KEY=VALUE (repeatable; VALUE is JSON if it parses, else a string).]:key=value:'
        '--max-shard-size[safetensors (.index.json) and Keras .weights.json output\: split into shards of at most this size (e.g. 500MB, 2GB).]:size:'
        '--dequantize[Write block-quantized tensors (GGUF Q4_K, Q8_0, …) as the float32 they decode to; without it they are refused.]'
        '--skip-unsupported[Leave out entries of the input that are not tensors ckpt reads (complex or string .npy members, ...; inspect lists them) instead of refusing them; a note lists them.]'
        '--force[Replace the output if it exists.]'
        '--allow-sparse[Read HDF5 datasets whose data the file does not store (never-written chunks, made up from the fill value); refused without it.]'
        '--color[Colour output\: auto (on a terminal, unless NO_COLOR is set), always, never.]:color:{__ckpt_complete "${___color[@]}"}'
        '--progress[Show a progress bar on stderr (default\: only when stderr is a terminal).]'
        '--no-progress[Show a progress bar on stderr (default\: only when stderr is a terminal).]'
        '--wide[Print tables at full width; by default they fit the terminal (COLUMNS), dropping or shortening the least important columns.]'
        '--version[Show the version.]'
        '(-h --help)'{-h,--help}'[Show help information.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

_ckpt_help() {
    local -i ret=1
    local -ar arg_specs=(
        '*:subcommands:'
        '--version[Show the version.]'
    )
    _arguments -w -s -S : "${arg_specs[@]}" && ret=0

    return "${ret}"
}

if [[ "${funcstack[1]}" = _ckpt ]]; then
    _ckpt "${@}"
else
    compdef _ckpt ckpt
fi
