/// A name compared, hashed and ordered as its UTF-8 bytes.
///
/// Swift's `String` equality is Unicode canonical equivalence: `"é"` written precomposed (NFC)
/// equals `"e"` + U+0301 (NFD), and `"\u{212A}"` (KELVIN SIGN) equals `"K"`. File systems, ZIP,
/// HDF5, safetensors and Python compare bytes, so for them those are different names; a reader
/// that compared them as Strings could take one file, member or tensor for another. Every set,
/// dictionary and comparison of names that come from files or command lines uses this (or
/// ``String/sameBytes(_:)``), never `String` equality (issue 16; a structure test checks it).
public struct ByteName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let string: String

    public init(_ string: String) { self.string = string }

    public static func == (a: ByteName, b: ByteName) -> Bool { a.string.sameBytes(b.string) }

    public func hash(into hasher: inout Hasher) {
        var s = string
        s.withUTF8 { b in
            hasher.combine(b.count)
            hasher.combine(bytes: UnsafeRawBufferPointer(b))
        }
    }

    public static func < (a: ByteName, b: ByteName) -> Bool { a.string.utf8.lexicographicallyPrecedes(b.string.utf8) }

    public var description: String { string }
}

extension String {
    /// Whether the two strings are the same bytes (not merely canonically equivalent).
    public func sameBytes(_ other: String) -> Bool { utf8.count == other.utf8.count && utf8.elementsEqual(other.utf8) }

    /// Whether the string starts with `prefix`'s bytes.
    public func hasBytePrefix(_ prefix: String) -> Bool { utf8.starts(with: prefix.utf8) }

    /// Whether the string ends with `suffix`'s bytes.
    public func hasByteSuffix(_ suffix: String) -> Bool { utf8.count >= suffix.utf8.count && utf8.reversed().starts(with: suffix.utf8.reversed()) }
}
