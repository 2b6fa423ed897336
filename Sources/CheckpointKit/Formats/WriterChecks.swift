/// What every writer checks before it writes, so that ckpt never writes a file its own reader
/// would refuse (issue 16: "files ckpt writes but refuses to read"). The numbers are ``Limits``';
/// each check names the tensor and the limit.
enum WriterChecks {
    /// Tensors written as ZIP members `<name>.npy` (`.ckpt`, `.npz`), with `otherMembers` more
    /// members (a manifest, an architecture…) in the same archive.
    static func zipTensors(_ tensors: [TensorInfo], otherMembers: Int, limits: Limits, file: String) throws {
        try count(tensors.count + otherMembers, limits: limits, file: file, what: "members in one archive")
        var directory: UInt64 = 0
        for t in tensors {
            try tensor(t, limits: limits, file: file)
            // A central record: 46 fixed bytes, the name, at most a 28-byte ZIP64 extra field.
            directory += 46 + UInt64(t.name.utf8.count + ContainerSpec.tensorSuffix.utf8.count) + 28
        }
        guard directory <= limits.maxCentralDirectoryBytes else {
            throw CheckpointError(.limitExceeded, "the \(tensors.count) tensors need a ZIP central directory of about \(directory) bytes, more than a reader accepts (\(limits.maxCentralDirectoryBytes))",
                                  file: file, hint: "write fewer tensors per file, or a sharded safetensors set")
        }
    }

    /// `n` items of one kind (tensors of a file, members of an archive) against ``Limits/maxMembers``.
    static func count(_ n: Int, limits: Limits, file: String, what: String) throws {
        guard n <= limits.maxMembers else {
            throw CheckpointError(.limitExceeded, "\(n) \(what) is more than a reader accepts (\(limits.maxMembers))", file: file,
                                  hint: "write fewer tensors per file, or a sharded safetensors set")
        }
    }

    /// One tensor: its name (the member-name rules and ``Limits/maxTensorNameBytes``), rank and size.
    static func tensor(_ t: TensorInfo, limits: Limits, file: String) throws {
        let n = t.name.utf8.count
        guard n <= limits.maxTensorNameBytes else {
            let shown = String(decoding: t.name.utf8.prefix(40), as: UTF8.self)
            throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(shown))…\" has a \(n)-byte name, longer than a reader accepts (\(limits.maxTensorNameBytes) bytes)",
                                  file: file, hint: "rename it (convert --strip-prefix) or keep it in another format")
        }
        try TensorNames.check(t.name, file: file)
        guard t.shape.count <= limits.maxRank else {
            throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(t.name))\" has \(t.shape.count) dimensions, more than a reader accepts (\(limits.maxRank))",
                                  file: file, member: t.name)
        }
        guard let bytes = t.byteCount, UInt64(bytes) <= limits.maxTensorBytes else {
            throw CheckpointError(.limitExceeded, "tensor \"\(escapeForDisplay(t.name))\" holds more bytes than a reader accepts (\(limits.maxTensorBytes))",
                                  file: file, member: t.name)
        }
    }

    /// A JSON document (a manifest, an index) of `bytes` bytes against the reader's `limit`.
    static func json(_ bytes: Int, limit: UInt64, file: String, what: String) throws {
        guard UInt64(bytes) <= limit else {
            throw CheckpointError(.limitExceeded, "the \(what) would be \(bytes) bytes, more than a reader accepts (\(limit))", file: file,
                                  hint: "write fewer tensors per file, or a sharded safetensors set")
        }
    }
}
