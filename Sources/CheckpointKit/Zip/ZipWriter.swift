import CheckpointSystem
import Dispatch
import Synchronization

/// Storage facts of one written member (what the manifest records, spec §3).
public struct MemberStorage: Sendable, Equatable {
    public var crc32: UInt32
    /// Uncompressed size: npy header + data.
    public var size: UInt64
    /// Compressed size.
    public var storedSize: UInt64
    /// CRC-32 of the compressed bytes (spec §3 `stored_crc32`): lets `--verify` catch a damaged
    /// byte that inflating cannot (deflate's padding bits), and check a member without inflating it.
    public var storedCRC32: UInt32?
    /// Length of the npy header (0 for JSON members).
    public var headerSize: Int
    /// Compressed offset, relative to the member's data, of every data chunk after the first
    /// piece (the header); empty unless the data spans more than one chunk.
    public var chunkOffsets: [UInt64]
    public var method: UInt16

    public init(crc32: UInt32, size: UInt64, storedSize: UInt64, storedCRC32: UInt32? = nil, headerSize: Int, chunkOffsets: [UInt64], method: UInt16 = 8) {
        self.storedCRC32 = storedCRC32
        self.crc32 = crc32
        self.size = size
        self.storedSize = storedSize
        self.headerSize = headerSize
        self.chunkOffsets = chunkOffsets
        self.method = method
    }
}

/// How a data chunk should be compressed, decided per chunk by the worker (spec §4).
enum ChunkKind: Sendable {
    /// The npy header or a JSON member.
    case text
    /// Tensor data of this item size; float data goes Huffman-only unless constant.
    case data(itemSize: Int, floating: Bool)
}

/// A compression task: one independent deflate fragment.
final class CompressionJob: @unchecked Sendable {
    // @unchecked: inputs are set before dispatch and results written once by the worker before
    // `done` is signalled; the owner reads results only after waiting on `done`.
    let input: [UInt8]
    let fill: (pattern: [UInt8], count: Int)?
    let kind: ChunkKind
    let finish: Bool
    /// The encoder of tensor data (text always goes through zlib).
    var encoder: DeflateEncoder = .zlib
    let done = DispatchSemaphore(value: 0)
    var output: [UInt8] = []
    var crc: UInt32 = 0
    /// CRC-32 of `output`.
    var outputCRC: UInt32 = 0
    var inputCount: Int
    var error: CheckpointError?

    init(input: [UInt8], kind: ChunkKind, finish: Bool) {
        self.input = input
        self.fill = nil
        self.kind = kind
        self.finish = finish
        self.inputCount = input.count
    }

    init(fillPattern: [UInt8], count: Int, kind: ChunkKind, finish: Bool) {
        self.input = []
        self.fill = (fillPattern, count)
        self.kind = kind
        self.finish = finish
        self.inputCount = count
    }
}

/// Deflaters kept for reuse across chunks, and compressed constant chunks keyed by content.
final class CompressionPool: Sendable {
    static let shared = CompressionPool()

    private struct DeflaterKey: Hashable { let strategy: DeflateStrategy; let encoder: DeflateEncoder }
    private let deflaters = Mutex<[DeflaterKey: [Deflater]]>([:])
    private struct FillKey: Hashable { let pattern: [UInt8]; let count: Int; let finish: Bool; let encoder: DeflateEncoder }
    private let fillCache = Mutex<[FillKey: (bytes: [UInt8], crc: UInt32, outputCRC: UInt32)]>([:])

    private func take(_ s: DeflateStrategy, _ e: DeflateEncoder) throws -> Deflater {
        let key = DeflaterKey(strategy: s, encoder: e)
        let d: Deflater?? = deflaters.withLock { pool in
            guard var list = pool[key], !list.isEmpty else { return nil }
            let d = list.removeLast()
            pool[key] = list
            return d
        }
        if let d = d.flatMap({ $0 }) { return d }
        return try Deflater(strategy: s, encoder: e)
    }

    private func give(_ d: Deflater) {
        let key = DeflaterKey(strategy: d.strategy, encoder: d.encoder)
        deflaters.withLock { pool in
            if pool[key, default: []].count < 8 { pool[key, default: []].append(d) }
        }
    }

    /// `count` bytes of `pattern` repeated (by doubling copies).
    static func repeated(_ pattern: [UInt8], count: Int) -> [UInt8] {
        guard !pattern.isEmpty, !pattern.allSatisfy({ $0 == 0 }) else { return [UInt8](repeating: 0, count: count) }
        return [UInt8](unsafeUninitializedCapacity: count) { buf, initialized in
            guard let base = buf.baseAddress, count > 0 else { initialized = 0; return }
            let first = min(pattern.count, count)
            pattern.withUnsafeBufferPointer { p in if let pb = p.baseAddress { base.update(from: pb, count: first) } }
            var filled = first
            while filled < count {
                let n = min(filled, count - filled)
                (base + filled).update(from: base, count: n)
                filled += n
            }
            initialized = count
        }
    }

    /// Whether every element of `bytes` equals the first (a buffer is constant with period p iff
    /// it equals itself shifted by p).
    static func isConstant(_ bytes: UnsafeRawBufferPointer, itemSize: Int) -> Bool {
        guard bytes.count > itemSize, let base = bytes.baseAddress else { return true }
        return Memory.equal(base, base + itemSize, count: bytes.count - itemSize)
    }

    func run(_ job: CompressionJob) {
        do {
            if let fill = job.fill {
                let key = FillKey(pattern: fill.pattern, count: fill.count, finish: job.finish, encoder: job.encoder)
                if let hit = fillCache.withLock({ $0[key] }) {
                    job.output = hit.bytes
                    job.crc = hit.crc
                    job.outputCRC = hit.outputCRC
                } else {
                    let buf = CompressionPool.repeated(fill.pattern, count: fill.count)
                    try compress(buf, kind: job.kind, finish: job.finish, job: job)
                    // Full chunks only: they are what repeats (a 1 GiB slot is 1,024 of them); the
                    // odd-sized tails of small tensors would crowd them out and are cheap anyway.
                    if fill.count == ContainerSpec.chunkSize, fillCache.withLock({ $0.count }) < 64 {
                        let entry = (job.output, job.crc, job.outputCRC)
                        fillCache.withLock { $0[key] = entry }
                    }
                }
            } else {
                try compress(job.input, kind: job.kind, finish: job.finish, job: job)
            }
        } catch let e as CheckpointError {
            job.error = e
        } catch {
            job.error = CheckpointError(.io, "\(error)")
        }
        job.done.signal()
    }

    private func compress(_ input: [UInt8], kind: ChunkKind, finish: Bool, job: CompressionJob) throws {
        try input.withUnsafeBytes { raw in
            let strategy: DeflateStrategy
            var encoder = job.encoder
            switch kind {
            case .text:
                strategy = .fast
                encoder = .zlib
            case .data(let itemSize, let floating):
                strategy = (!floating || CompressionPool.isConstant(raw, itemSize: itemSize)) ? .fast : .huffmanOnly
            }
            job.crc = crc32(raw)
            let d = try take(strategy, encoder)
            defer { give(d) }
            var out: [UInt8] = []
            try d.compressFragment(raw, finish: finish, into: &out)
            job.outputCRC = crc32(out)
            job.output = out
        }
    }
}


/// Writes a deterministic ZIP archive (spec §1) member by member, compressing chunks on all cores
/// while keeping the output in order and memory bounded.
final class ZipWriter {
    let out: AtomicOutputFile
    private let pool = CompressionPool.shared
    private let workQueue = DispatchQueue(label: "ckpt.deflate", qos: .userInitiated, attributes: .concurrent)
    private let maxInFlight: Int

    private enum Item {
        case begin(name: String, size: UInt64, headerSize: Int)
        case chunk(CompressionJob, isData: Bool)
        case copy(name: String, source: ZipArchive, entry: ZipEntry, storage: MemberStorage)
        case end
    }

    private var items: [Item] = []
    private var head = 0
    private var jobsInFlight = 0

    private struct Central {
        let name: String
        let crc: UInt32
        let csize: UInt64
        let usize: UInt64
        let offset: UInt64
        let method: UInt16
    }
    private var central: [Central] = []
    private var names = Set<ByteName>()
    private(set) var storage: [String: MemberStorage] = [:]

    // State of the member being drained.
    private var curName = ""
    private var curSize: UInt64 = 0
    private var curHeaderSize = 0
    private var curOffset: UInt64 = 0
    private var curDataStart: UInt64 = 0
    private var curCRC: UInt32 = 0
    private var curStoredCRC: UInt32 = 0
    private var curProduced: UInt64 = 0
    private var curChunkOffsets: [UInt64] = []
    private var curDataChunks = 0
    private var curZip64 = false

    // State of the member being submitted.
    private var pending: [UInt8] = []
    private var pendingKind: ChunkKind = .text
    private var submitRemaining: UInt64 = 0
    private var submitting = false

    private let limits: Limits
    /// Deflates tensor data (spec §4).
    let encoder: DeflateEncoder

    init(output: AtomicOutputFile, limits: Limits = .default, encoder: DeflateEncoder = .preferred, maxInFlight: Int? = nil) {
        out = output
        self.limits = limits
        self.encoder = encoder
        let cores = SystemProcess.processorCount
        self.maxInFlight = maxInFlight ?? (2 * cores + 2)
    }

    deinit {
        // An abandoned write (an error mid-member): let the jobs still running finish first.
        for item in items[head...] {
            if case .chunk(let job, _) = item { job.done.wait() }
        }
    }

    private func checkName(_ name: String) throws {
        // What ZipArchive refuses, refused here (and a name field is 16 bits).
        guard name.utf8.count <= min(limits.maxMemberNameBytes, 0xFFFF) else {
            throw CheckpointError(.limitExceeded, "a member name of \(name.utf8.count) bytes is longer than a reader accepts (\(limits.maxMemberNameBytes))",
                                  file: out.destination)
        }
        guard names.count < limits.maxMembers else {
            throw CheckpointError(.limitExceeded, "more than \(limits.maxMembers) members is more than a reader accepts", file: out.destination)
        }
        try ZipArchive.checkMemberName(name, file: out.destination, offset: nil)
        guard names.insert(ByteName(name)).inserted else {
            throw CheckpointError(.duplicateName, "two members would be named \"\(escapeForDisplay(name))\"", file: out.destination)
        }
    }

    // MARK: Submitting

    /// Starts a tensor member of `size` bytes whose first `header.count` bytes are `header`.
    func beginTensor(name: String, header: [UInt8], dataSize: UInt64, itemSize: Int, floating: Bool) throws {
        precondition(!submitting, "beginTensor inside a member")
        try checkName(name)
        let size = UInt64(header.count) + dataSize
        items.append(.begin(name: name, size: size, headerSize: header.count))
        submitting = true
        submitRemaining = dataSize
        try enqueue(CompressionJob(input: header, kind: .text, finish: dataSize == 0), isData: false)
        pendingKind = .data(itemSize: itemSize, floating: floating)
        pending.reserveCapacity(ContainerSpec.chunkSize)
        if dataSize == 0 { try endMember() }
    }

    /// Appends tensor data; chunks of exactly `ContainerSpec.chunkSize` are cut and compressed.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(submitting, "write outside a member")
        guard UInt64(bytes.count) <= submitRemaining else {
            throw CheckpointError(.corrupt, "the tensor source produced more bytes than its shape holds", file: out.destination, member: currentSubmitName)
        }
        var rest = bytes
        while !rest.isEmpty {
            let room = ContainerSpec.chunkSize - pending.count
            let n = min(room, rest.count)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[0..<n]))
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            submitRemaining -= UInt64(n)
            if pending.count == ContainerSpec.chunkSize || submitRemaining == 0 {
                let chunk = pending
                pending = []
                pending.reserveCapacity(ContainerSpec.chunkSize)
                try enqueue(CompressionJob(input: chunk, kind: pendingKind, finish: submitRemaining == 0), isData: true)
                if submitRemaining == 0 { try endMember() }
            }
        }
    }

    /// Appends `count` elements all equal to `pattern` without materialising them (fresh slots).
    func writeFill(pattern: [UInt8], count: Int) throws {
        precondition(submitting && pending.isEmpty, "writeFill must cover the whole tensor data")
        var left = UInt64(count) * UInt64(pattern.count)
        guard left == submitRemaining else {
            throw CheckpointError(.corrupt, "a fill does not match the tensor's size", file: out.destination, member: currentSubmitName)
        }
        while left > 0 {
            let n = Int(min(left, UInt64(ContainerSpec.chunkSize)))
            left -= UInt64(n)
            submitRemaining = left
            try enqueue(CompressionJob(fillPattern: pattern, count: n, kind: pendingKind, finish: left == 0), isData: true)
        }
        try endMember()
    }

    private var currentSubmitName: String? {
        for item in items[head...].reversed() { if case .begin(let name, _, _) = item { return name } }
        return nil
    }

    private func endMember() throws {
        guard submitRemaining == 0 else {
            throw CheckpointError(.corrupt, "the tensor source ended \(submitRemaining) bytes early", file: out.destination, member: currentSubmitName)
        }
        items.append(.end)
        submitting = false
    }

    /// Adds a small member (JSON) compressed in one piece.
    func addSmallMember(name: String, bytes: [UInt8]) throws {
        precondition(!submitting)
        try checkName(name)
        items.append(.begin(name: name, size: UInt64(bytes.count), headerSize: 0))
        try enqueue(CompressionJob(input: bytes, kind: .text, finish: true), isData: false)
        items.append(.end)
    }

    /// Copies a member's compressed bytes from another archive as they are (no inflate/deflate),
    /// under `name` (which may differ from the source member's).
    func copyMember(name: String, from source: ZipArchive, entry: ZipEntry, storage: MemberStorage) throws {
        precondition(!submitting)
        try checkName(name)
        items.append(.copy(name: name, source: source, entry: entry, storage: storage))
        try drainIfNeeded()
    }

    private func enqueue(_ job: CompressionJob, isData: Bool) throws {
        job.encoder = encoder
        items.append(.chunk(job, isData: isData))
        // drainIfNeeded keeps jobsInFlight below maxInFlight: memory stays bounded.
        jobsInFlight += 1
        let pool = self.pool
        workQueue.async { pool.run(job) }
        try drainIfNeeded()
    }

    private func drainIfNeeded() throws {
        // Keep the pipeline full: write out completed items in order, waiting only when at the bound.
        while head < items.count {
            if case .chunk(let job, _) = items[head] {
                if jobsInFlight >= maxInFlight {
                    job.done.wait()
                    job.done.signal()
                } else if job.done.wait(timeout: .now()) == .success {
                    job.done.signal()
                } else {
                    return
                }
            }
            try drainOne()
        }
    }

    // MARK: Draining (in order, on the caller's thread)

    private func drainOne() throws {
        let item = items[head]
        items[head] = .end // release the buffers
        head += 1
        if head > 4096 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        switch item {
        case .begin(let name, let size, let headerSize):
            curName = name
            curSize = size
            curHeaderSize = headerSize
            curOffset = out.offset
            curCRC = 0
            curStoredCRC = 0
            curProduced = 0
            curChunkOffsets = []
            curDataChunks = 0
            curZip64 = deflateBoundEstimate(size) >= ContainerSpec.zip64Threshold
            try out.append(zipLocalHeader(name: name, crc: 0, csize: 0, usize: size, method: 8, zip64: curZip64))
            curDataStart = out.offset
        case .chunk(let job, let isData):
            job.done.wait()
            jobsInFlight -= 1
            if let e = job.error { throw e.located(file: out.destination, member: curName) }
            if isData {
                curDataChunks += 1
                curChunkOffsets.append(out.offset - curDataStart)
            }
            curStoredCRC = out.offset == curDataStart ? job.outputCRC : crc32Combine(curStoredCRC, job.outputCRC, lengthOfB: job.output.count)
            try out.append(job.output)
            curCRC = curProduced == 0 ? job.crc : crc32Combine(curCRC, job.crc, lengthOfB: job.inputCount)
            curProduced += UInt64(job.inputCount)
        case .end:
            let csize = out.offset - curDataStart
            try out.patch(zipLocalHeader(name: curName, crc: curCRC, csize: csize, usize: curSize, method: 8, zip64: curZip64), at: curOffset)
            central.append(Central(name: curName, crc: curCRC, csize: csize, usize: curSize, offset: curOffset, method: 8))
            storage[curName] = MemberStorage(crc32: curCRC, size: curSize, storedSize: csize, storedCRC32: curStoredCRC, headerSize: curHeaderSize,
                                             chunkOffsets: curDataChunks > 1 ? curChunkOffsets : [], method: 8)
        case .copy(let name, let source, let entry, let st):
            let offset = out.offset
            let zip64 = deflateBoundEstimate(entry.uncompressedSize) >= ContainerSpec.zip64Threshold
            let dataStart = try source.dataOffset(of: entry)
            try out.append(zipLocalHeader(name: name, crc: entry.crc32, csize: entry.compressedSize, usize: entry.uncompressedSize,
                                       method: entry.method, zip64: zip64))
            try out.appendCopy(from: source.file, at: dataStart, count: entry.compressedSize)
            central.append(Central(name: name, crc: entry.crc32, csize: entry.compressedSize, usize: entry.uncompressedSize,
                                   offset: offset, method: entry.method))
            storage[name] = st
        }
    }

    /// zlib's deflateBound for raw deflate, computed without a stream (spec §1 rule 4).
    private func deflateBoundEstimate(_ n: UInt64) -> UInt64 {
        n + (n >> 12) + (n >> 14) + (n >> 25) + 13 + 5 * (n / UInt64(ContainerSpec.chunkSize) + 2)
    }

    /// Writes out every member submitted so far (so their ``storage`` is known).
    func finishMembers() throws {
        precondition(!submitting)
        while head < items.count { try drainOne() }
    }

    /// Drains everything and writes the central directory and end records, then `comment` (the
    /// archive comment, at most 65,535 bytes).
    func finish(comment: [UInt8] = []) throws {
        precondition(!submitting)
        while head < items.count { try drainOne() }
        items.removeAll()
        head = 0
        let cdStart = out.offset
        var cd: [UInt8] = []
        for c in central {
            let nameBytes = Array(c.name.utf8)
            var extra: [UInt8] = []
            let bigU = c.usize >= ContainerSpec.zip64Threshold
            let bigC = c.csize >= ContainerSpec.zip64Threshold
            let bigO = c.offset >= ContainerSpec.zip64Threshold
            if bigU || bigC || bigO {
                var fields: [UInt8] = []
                if bigU { fields.appendLE(c.usize) }
                if bigC { fields.appendLE(c.csize) }
                if bigO { fields.appendLE(c.offset) }
                extra.appendLE(UInt16(1))
                extra.appendLE(UInt16(fields.count))
                extra += fields
            }
            cd.appendLE(UInt32(0x0201_4B50))
            cd.appendLE(ContainerSpec.versionMadeBy)
            cd.appendLE(UInt16(extra.isEmpty ? 20 : 45))
            cd.appendLE(UInt16(nameBytes.contains { $0 >= 0x80 } ? 0x0800 : 0))
            cd.appendLE(c.method)
            cd.appendLE(ContainerSpec.dosTime)
            cd.appendLE(ContainerSpec.dosDate)
            cd.appendLE(c.crc)
            cd.appendLE(bigC ? UInt32.max : UInt32(c.csize))
            cd.appendLE(bigU ? UInt32.max : UInt32(c.usize))
            cd.appendLE(UInt16(nameBytes.count))
            cd.appendLE(UInt16(extra.count))
            cd.appendLE(UInt16(0)) // comment
            cd.appendLE(UInt16(0)) // disk
            cd.appendLE(UInt16(0)) // internal attributes
            cd.appendLE(ContainerSpec.externalAttributes)
            cd.appendLE(bigO ? UInt32.max : UInt32(c.offset))
            cd += nameBytes
            cd += extra
            if cd.count >= 1 << 20 {
                try out.append(cd)
                cd.removeAll(keepingCapacity: true)
            }
        }
        try out.append(cd)
        let cdSize = out.offset - cdStart
        let count = UInt64(central.count)
        let needZip64 = count >= 0xFFFF || cdSize >= ContainerSpec.zip64Threshold || cdStart >= ContainerSpec.zip64Threshold
        try out.append(zipEndRecords(entries: count, directorySize: cdSize, directoryStart: cdStart, zip64At: needZip64 ? out.offset : nil,
                                     zip64MadeBy: ContainerSpec.versionMadeBy, comment: comment))
    }
}

/// A local file header (fixed 1980 time; UTF-8 flag for non-ASCII names); with `zip64`, both sizes
/// go in a ZIP64 extra field. Shared by the `.ckpt` and `.keras` writers.
func zipLocalHeader(name: String, crc: UInt32, csize: UInt64, usize: UInt64, method: UInt16, zip64: Bool) -> [UInt8] {
    let nameBytes = Array(name.utf8)
    var h: [UInt8] = []
    h.reserveCapacity(30 + nameBytes.count + 20)
    h.appendLE(UInt32(0x0403_4B50))
    h.appendLE(UInt16(zip64 ? 45 : 20))
    h.appendLE(UInt16(nameBytes.contains { $0 >= 0x80 } ? 0x0800 : 0))
    h.appendLE(method)
    h.appendLE(ContainerSpec.dosTime)
    h.appendLE(ContainerSpec.dosDate)
    h.appendLE(crc)
    h.appendLE(zip64 ? UInt32.max : UInt32(csize))
    h.appendLE(zip64 ? UInt32.max : UInt32(usize))
    h.appendLE(UInt16(nameBytes.count))
    h.appendLE(UInt16(zip64 ? 20 : 0))
    h += nameBytes
    if zip64 {
        h.appendLE(UInt16(1))
        h.appendLE(UInt16(16))
        h.appendLE(usize)
        h.appendLE(csize)
    }
    return h
}

/// The end of a ZIP archive: with `zip64At`, the ZIP64 end-of-central-directory record (written at
/// that offset) and its locator; then the end-of-central-directory record, its 16- and 32-bit
/// fields saturated (readers take the ZIP64 values). Shared by the `.ckpt` and `.keras` writers.
func zipEndRecords(entries count: UInt64, directorySize: UInt64, directoryStart: UInt64, zip64At: UInt64?,
                   zip64MadeBy: UInt16, comment: [UInt8] = []) -> [UInt8] {
    var end: [UInt8] = []
    if let zip64At {
        end.appendLE(UInt32(0x0606_4B50))
        end.appendLE(UInt64(44))
        end.appendLE(zip64MadeBy)
        end.appendLE(UInt16(45))
        end.appendLE(UInt32(0))
        end.appendLE(UInt32(0))
        end.appendLE(count)
        end.appendLE(count)
        end.appendLE(directorySize)
        end.appendLE(directoryStart)
        end.appendLE(UInt32(0x0706_4B50))
        end.appendLE(UInt32(0))
        end.appendLE(zip64At)
        end.appendLE(UInt32(1))
    }
    end.appendLE(UInt32(0x0605_4B50))
    end.appendLE(UInt16(0))
    end.appendLE(UInt16(0))
    end.appendLE(UInt16(min(count, 0xFFFF)))
    end.appendLE(UInt16(min(count, 0xFFFF)))
    end.appendLE(UInt32(min(directorySize, 0xFFFF_FFFF)))
    end.appendLE(UInt32(min(directoryStart, 0xFFFF_FFFF)))
    let kept = comment.prefix(0xFFFF)
    end.appendLE(UInt16(kept.count))
    end += kept
    return end
}
