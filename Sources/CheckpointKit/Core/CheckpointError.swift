import CheckpointSystem

/// The one error type CheckpointKit throws.
///
/// Every error carries a stable ``Code`` (tests and scripts compare codes, never texts), the file
/// it concerns, and where known the member (ZIP member, HDF5 dataset, safetensors tensor) and the
/// byte offset. ``description`` renders all of it as one sentence a person can act on.
public struct CheckpointError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable, CaseIterable {
        /// The file could not be opened, read, written or renamed (the OS said no).
        case io
        /// The output already exists and `--force` was not given, or output = input.
        case outputExists
        /// The device is full or a file-size limit was hit while writing.
        case noSpace
        /// The input is not a file of the format that was expected (no ZIP end record, bad magic, ...).
        case notRecognized
        /// The file ends before a structure it declares does.
        case truncated
        /// A structure is internally inconsistent (bad signature, sizes that disagree, bad deflate data).
        case corrupt
        /// A member's CRC-32 does not match its data.
        case checksumMismatch
        /// A declared count or size exceeds a ``Limits`` value; refused before allocating.
        case limitExceeded
        /// A feature the reader refuses on purpose: encryption, multi-disk, object dtypes, external links...
        case unsupported
        /// A member or tensor name that could escape a directory or is not printable UTF-8.
        case unsafeName
        /// Two members or tensors share a name.
        case duplicateName
        /// JSON that does not parse or nests too deep.
        case invalidJSON
        /// A `.npy` header that does not parse or disagrees with the member's size.
        case invalidNPY
        /// The manifest is missing, malformed, or disagrees with the members.
        case invalidManifest
        /// An architecture JSON that cannot be understood.
        case invalidArchitecture
        /// A layer class whose variables the toolkit does not know.
        case unknownLayer
        /// Weights and architecture do not match (missing, unexpected or mismatched tensors).
        case weightsMismatch
        /// An optimizer name or configuration that cannot be built.
        case invalidOptimizer
        /// A tensor that was asked for does not exist.
        case noSuchTensor
        /// An argument that makes no sense (a bad tolerance, an unknown format name...).
        case invalidArgument
        /// The operation needs a part the checkpoint lacks (an architecture, an optimizer...).
        case missingPart
        /// A safetensors header or index that breaks the safetensors rules.
        case invalidSafetensors
        /// An HDF5 file that libhdf5 refused or that does not have the Keras layout.
        case invalidHDF5
        /// libhdf5 could not be loaded at run time.
        case hdf5Unavailable
        /// Re-reading what was written did not give back the input bit for bit.
        case verificationFailed
    }

    public var code: Code
    /// The file the error concerns, as the user named it.
    public var file: String?
    /// The ZIP member, HDF5 path or tensor name inside `file`.
    public var member: String?
    /// Byte offset in `file` (not in the member) where the problem was found.
    public var offset: UInt64?
    /// What was expected and what was found, as a clause without a trailing period.
    public var reason: String
    /// What to do next, if there is something useful to say.
    public var hint: String?

    public init(_ code: Code, _ reason: String, file: String? = nil, member: String? = nil,
                offset: UInt64? = nil, hint: String? = nil) {
        self.code = code
        self.reason = reason
        self.file = file
        self.member = member
        self.offset = offset
        self.hint = hint
    }

    /// `file: member "m" at byte 123: reason; hint.`
    public var description: String {
        var location: [String] = []
        if let file { location.append(Self.printable(file)) }
        var place = ""
        if let member { place = "member \"\(Self.printable(member))\"" }
        if let offset { place += place.isEmpty ? "at byte \(offset)" : " at byte \(offset)" }
        if !place.isEmpty { location.append(place) }
        var text = location.isEmpty ? reason : location.joined(separator: ": ") + ": " + reason
        if let hint { text += "; " + hint }
        if !text.hasSuffix(".") && !text.hasSuffix("?") && !text.hasSuffix("!") { text += "." }
        return text
    }

    /// Fills in the file and/or member if the thrower did not know them.
    public func located(file: String? = nil, member: String? = nil, offset: UInt64? = nil) -> CheckpointError {
        var copy = self
        if copy.file == nil { copy.file = file }
        if copy.member == nil { copy.member = member }
        if copy.offset == nil { copy.offset = offset }
        return copy
    }

    public func hinting(_ hint: String) -> CheckpointError {
        var copy = self
        if copy.hint == nil { copy.hint = hint }
        return copy
    }

    /// Escapes control characters and quotes so a hostile name cannot move the cursor or fake output.
    public static func printable(_ s: String) -> String { escapeForDisplay(s) }
}

/// Escapes what could move the cursor, fake output or disguise a name: C0/C1 controls, DEL, the
/// line and paragraph separators, bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE makes
/// `evil\u{202e}txt.npy` display as `evilypn.txt`) and invisible characters (U+200B ZERO WIDTH
/// SPACE makes two names look alike). `\n`, `\t`, `\u{1b}`, `\u{202e}` become visible text.
public func escapeForDisplay(_ s: String) -> String {
    var needs = false
    for u in s.unicodeScalars where needsEscape(u.value) {
        needs = true
        break
    }
    guard needs else { return s }
    var out = ""
    out.reserveCapacity(s.utf8.count + 8)
    for u in s.unicodeScalars {
        switch u.value {
        case 0x0A: out += "\\n"
        case 0x0D: out += "\\r"
        case 0x09: out += "\\t"
        case let v where needsEscape(v): out += "\\u{" + String(v, radix: 16) + "}"
        default: out.unicodeScalars.append(u)
        }
    }
    return out
}

/// Scalars ``escapeForDisplay(_:)`` shows as `\u{…}`.
private func needsEscape(_ v: UInt32) -> Bool {
    switch v {
    case 0..<0x20, 0x7F..<0xA0: return true // C0, DEL, C1
    case 0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFEFF, 0xFFA0: return true // invisible
    case 0x200B...0x200F: return true // zero-width space, non-joiner, joiner; LRM, RLM
    case 0x2028...0x202E: return true // line and paragraph separators; LRE, RLE, PDF, LRO, RLO
    case 0x2060...0x206F: return true // word joiner, invisible operators; LRI, RLI, FSI, PDI; deprecated formats
    case 0xFFF9...0xFFFB: return true // interlinear annotation
    case 0xE0000...0xE007F: return true // tags
    default: return false
    }
}

extension CheckpointError {
    static func io(_ reason: String, file: String?, errno code: Int32) -> CheckpointError {
        let e = Errno(code)
        if e == .noSpace || e == .fileTooLarge || e == .quotaExceeded {
            return CheckpointError(.noSpace, reason + " (" + describeErrno(code) + ")", file: file,
                                   hint: "free some space or write somewhere else; nothing was left behind")
        }
        return CheckpointError(.io, reason + " (" + describeErrno(code) + ")", file: file)
    }
}

func describeErrno(_ code: Int32) -> String { Errno(code).description }
