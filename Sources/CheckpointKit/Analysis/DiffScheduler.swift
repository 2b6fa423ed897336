import Synchronization

// Scheduling a diff's work: tensors split into pieces on every core, or streamed when a
// format cannot seek inside a tensor (see DiffEngine.swift for the results it fills).

struct DiffJob: Sendable {
    let diff: Int
    let a: any TensorSource
    let b: any TensorSource
    let i: Int
    let j: Int
    let elements: Int
    let kernel: DiffKernel
}

/// Runs the value comparisons on every core and merges the partial results in element order.
struct DiffScheduler {
    let jobs: [DiffJob]
    let options: DiffOptions

    struct Outcome {
        var metrics: [DiffMetrics?]
        var stopped: Bool
        var bytesRead: UInt64
    }

    /// How one side of a pair can be read.
    struct Side: Sendable {
        let source: any TensorSource
        let tensor: Int
        let itemSize: Int
        /// Piece boundaries in elements (`count + 1` values), when the side can be read piece by
        /// piece with every piece starting on an element; nil when it is one stream.
        let bounds: [Int]?
        let bytes: Int

        init(_ source: any TensorSource, _ tensor: Int) {
            self.source = source
            self.tensor = tensor
            let info = source.index.tensors[tensor]
            itemSize = info.dtype.itemSize
            bytes = info.byteCount ?? 0
            let ps = source.pieces(of: tensor)
            if ps.count > 1, ps.first?.lowerBound == 0, ps.last?.upperBound == bytes,
               ps.allSatisfy({ $0.lowerBound % info.dtype.itemSize == 0 && !$0.isEmpty }),
               zip(ps, ps.dropFirst()).allSatisfy({ $0.0.upperBound == $0.1.lowerBound }) {
                bounds = ps.map { $0.lowerBound / info.dtype.itemSize } + [bytes / info.dtype.itemSize]
            } else {
                bounds = nil
            }
        }

        var pieceCount: Int { (bounds?.count ?? 2) - 1 }
    }

    /// A unit of work: piece `piece` of the coarser side of job `job`, or the whole job.
    struct Unit: Sendable {
        let job: Int
        let piece: Int?
        let weight: Int
    }

    struct UnitResult: Sendable {
        var metrics = DiffMetrics()
        var crcX: (Int, UInt32)?
        var crcY: [(Int, UInt32)] = []
        var skipped = false
        var bytes: UInt64 = 0
    }

    /// Pieces of side X are the units; Y is read piece by piece alongside.
    struct PiecePlan: Sendable {
        let x: Side
        let y: Side
        let xIsA: Bool
    }

    func run() throws -> Outcome {
        var units: [Unit] = []
        var plans: [PiecePlan?] = []
        for (n, job) in jobs.enumerated() {
            let sa = Side(job.a, job.i), sb = Side(job.b, job.j)
            if sa.bounds != nil && sb.bounds != nil {
                // The side with fewer pieces drives; the other's pieces are read where they overlap.
                let xIsA = sa.pieceCount <= sb.pieceCount
                let plan = PiecePlan(x: xIsA ? sa : sb, y: xIsA ? sb : sa, xIsA: xIsA)
                plans.append(plan)
                let per = (sa.bytes + sb.bytes) / plan.x.pieceCount
                for p in 0..<plan.x.pieceCount { units.append(Unit(job: n, piece: p, weight: per)) }
            } else {
                plans.append(nil)
                units.append(Unit(job: n, piece: nil, weight: sa.bytes + sb.bytes))
            }
        }
        let stop = Atomic<Bool>(false)
        let stopEarly = options.stopAtFirstDifference
        let progress = options.progress
        let jobs = self.jobs
        let planList = plans
        let unitList = units
        let limits = options.limits
        let bufferLimit = options.streamBufferLimit
        let results = try ParallelWork.map(count: unitList.count, parallel: options.parallel, weight: { unitList[$0].weight }) { u -> UnitResult in
            if stop.load(ordering: .relaxed) { return UnitResult(skipped: true) }
            let unit = unitList[u]
            let job = jobs[unit.job]
            var r: UnitResult
            do {
                if let plan = planList[unit.job], let p = unit.piece {
                    r = try Self.runPiece(job: job, plan: plan, piece: p)
                } else {
                    r = try Self.runStream(job: job, limits: limits, bufferLimit: bufferLimit, stop: stop, progress: progress)
                }
            } catch is DiffCancelled {
                return UnitResult(skipped: true)
            }
            if stopEarly && r.metrics.differing > 0 { stop.store(true, ordering: .relaxed) }
            if unit.piece != nil { progress?(r.bytes) }
            return r
        }

        // Merge per job in element order; check the piece CRCs of tensors read piece by piece.
        var merged = [DiffMetrics?](repeating: nil, count: jobs.count)
        var complete = [Bool](repeating: true, count: jobs.count)
        var crcsX: [[UInt32?]] = plans.map { p in p.map { [UInt32?](repeating: nil, count: $0.x.pieceCount) } ?? [] }
        var crcsY: [[UInt32?]] = plans.map { p in p.map { [UInt32?](repeating: nil, count: $0.y.pieceCount) } ?? [] }
        var bytesRead: UInt64 = 0
        for (u, unit) in unitList.enumerated() {
            let r = results[u]
            bytesRead += r.bytes
            if r.skipped { complete[unit.job] = false; continue }
            if merged[unit.job] == nil { merged[unit.job] = DiffMetrics() }
            merged[unit.job]?.merge(r.metrics)
            if let (p, c) = r.crcX { crcsX[unit.job][p] = c }
            for (q, c) in r.crcY { crcsY[unit.job][q] = c }
        }
        var stopped = false
        for n in jobs.indices {
            if !complete[n] { merged[n] = nil; stopped = true; continue }
            guard let plan = plans[n] else { continue }
            let cx = crcsX[n].compactMap { $0 }, cy = crcsY[n].compactMap { $0 }
            if cx.count == plan.x.pieceCount { try plan.x.source.verifyPieces(of: plan.x.tensor, crcs: cx) }
            if cy.count == plan.y.pieceCount { try plan.y.source.verifyPieces(of: plan.y.tensor, crcs: cy) }
        }
        return Outcome(metrics: merged, stopped: stopped, bytesRead: bytesRead)
    }

    /// Piece `p` of X against the overlapping pieces of Y.
    static func runPiece(job: DiffJob, plan: PiecePlan, piece p: Int) throws -> UnitResult {
        let x = plan.x, y = plan.y
        guard let xb = x.bounds, let yb = y.bounds else { return UnitResult(skipped: true) }
        let xs = xb[p], xe = xb[p + 1]
        let xBytes = (xe - xs) * x.itemSize
        var r = UnitResult()
        let kernel = job.kernel
        let tensorName = x.source.index.tensors[x.tensor].name

        func against(_ xbase: UnsafeRawPointer) throws {
            // First Y piece whose end is past xs.
            var q = Self.pieceContaining(xs, yb)
            while q < yb.count - 1 && yb[q] < xe {
                var aligner = DiffElementAligner(itemSize: y.itemSize, first: yb[q])
                var got = 0
                let crc = try y.source.readPiece(y.tensor, q) { chunk in
                    got += chunk.count
                    try aligner.feed(chunk) { ybytes, e0 in
                        let e1 = e0 + ybytes.count / y.itemSize
                        let lo = Swift.max(e0, xs), hi = Swift.min(e1, xe)
                        guard lo < hi, let ybase = ybytes.baseAddress else { return }
                        let py = ybase + (lo - e0) * y.itemSize
                        let px = xbase + (lo - xs) * x.itemSize
                        if plan.xIsA {
                            kernel.compare(px, py, count: hi - lo, first: lo, into: &r.metrics)
                        } else {
                            kernel.compare(py, px, count: hi - lo, first: lo, into: &r.metrics)
                        }
                    }
                }
                let want = (yb[q + 1] - yb[q]) * y.itemSize
                guard got == want, aligner.leftover == 0 else {
                    throw CheckpointError(.corrupt, "piece \(q) of the tensor gave \(got) bytes where \(want) were expected",
                                          file: y.source.path, member: y.source.index.tensors[y.tensor].name)
                }
                r.crcY.append((q, crc))
                r.bytes += UInt64(want)
                q += 1
            }
        }

        var buffer: [UInt8] = []
        var inline = false
        var got = 0
        let crc = try x.source.readPiece(x.tensor, p) { chunk in
            if got == 0 && chunk.count == xBytes, let base = chunk.baseAddress {
                inline = true
                got = chunk.count
                try against(base)
                return
            }
            got += chunk.count
            guard !inline, got <= xBytes else { return }
            if buffer.isEmpty { buffer.reserveCapacity(xBytes) }
            buffer.append(contentsOf: chunk)
        }
        guard got == xBytes else {
            throw CheckpointError(.corrupt, "piece \(p) of the tensor gave \(got) bytes where \(xBytes) were expected", file: x.source.path, member: tensorName)
        }
        if !inline {
            try buffer.withUnsafeBytes { b in
                guard let base = b.baseAddress else { return }
                try against(base)
            }
        }
        r.crcX = (p, crc)
        r.bytes += UInt64(xBytes)
        return r
    }

    /// Index of the piece holding element `e` (bounds ascending).
    static func pieceContaining(_ e: Int, _ bounds: [Int]) -> Int {
        var lo = 0, hi = bounds.count - 2
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if bounds[mid] <= e { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// One side streamed through its reader's callback, the other pulled along.
    static func runStream(job: DiffJob, limits: Limits, bufferLimit: Int, stop: borrowing Atomic<Bool>, progress: (@Sendable (UInt64) -> Void)?) throws -> UnitResult {
        let sa = Side(job.a, job.i), sb = Side(job.b, job.j)
        // The outer side is one that must be streamed; the inner side is pulled.
        let outerIsA: Bool
        if sa.bounds == nil && sb.bounds != nil { outerIsA = true }
        else if sb.bounds == nil && sa.bounds != nil { outerIsA = false }
        else { outerIsA = sa.bytes >= sb.bytes }
        let outer = outerIsA ? sa : sb, inner = outerIsA ? sb : sa
        let reader: any DiffPullReader
        if inner.bounds != nil {
            reader = DiffPieceReader(source: inner.source, tensor: inner.tensor)
        } else if inner.bytes <= bufferLimit {
            reader = try DiffBufferReader(source: inner.source, tensor: inner.tensor, limits: limits)
        } else {
            reader = try DiffPumpReader(source: inner.source, tensor: inner.tensor)
        }
        var finished = false
        defer { if !finished { try? reader.finish(consumedAll: false) } }

        var r = UnitResult()
        let kernel = job.kernel
        var aligner = DiffElementAligner(itemSize: outer.itemSize)
        var pending: UInt64 = 0
        try outer.source.readTensor(outer.tensor) { chunk in
            if stop.load(ordering: .relaxed) { throw DiffCancelled() }
            try aligner.feed(chunk) { obytes, e0 in
                guard let obase = obytes.baseAddress else { return }
                let end = e0 + obytes.count / outer.itemSize
                guard end <= job.elements else {
                    throw CheckpointError(.corrupt, "the tensor has more data than its shape holds", file: outer.source.path,
                                          member: outer.source.index.tensors[outer.tensor].name)
                }
                var e = e0
                while e < end {
                    let got = try reader.next(max: end - e) { ip, n in
                        let op = obase + (e - e0) * outer.itemSize
                        if outerIsA {
                            kernel.compare(op, ip, count: n, first: e, into: &r.metrics)
                        } else {
                            kernel.compare(ip, op, count: n, first: e, into: &r.metrics)
                        }
                    }
                    guard got > 0 else {
                        throw CheckpointError(.corrupt, "the tensor has less data than its shape holds", file: inner.source.path,
                                              member: inner.source.index.tensors[inner.tensor].name)
                    }
                    e += got
                }
                let bytes = UInt64((end - e0) * (outer.itemSize + inner.itemSize))
                r.bytes += bytes
                pending += bytes
                if pending >= 8 << 20 { progress?(pending); pending = 0 }
            }
        }
        if pending > 0 { progress?(pending) }
        guard aligner.next == job.elements, aligner.leftover == 0 else {
            throw CheckpointError(.corrupt, "the tensor has \(aligner.next) elements of data where its shape needs \(job.elements)",
                                  file: outer.source.path, member: outer.source.index.tensors[outer.tensor].name)
        }
        let extra = try reader.next(max: 1) { _, _ in }
        guard extra == 0 else {
            throw CheckpointError(.corrupt, "the tensor has more data than its shape holds", file: inner.source.path,
                                  member: inner.source.index.tensors[inner.tensor].name)
        }
        finished = true
        try reader.finish(consumedAll: true)
        return r
    }
}
