/// The archive comment, where a second archive can hide (issue 16: polyglot ZIPs).
///
/// Readers disagree on which end record counts when there are several: ckpt takes the one whose
/// comment runs exactly to the end of the file, Python's `zipfile` (and so numpy and Keras) the
/// last signature in the tail. A comment holding ZIP records makes them read two different
/// archives from one file, so such a file is refused outright.
extension ZipArchive {
    /// Refuses an archive comment that contains a ZIP record signature (`PK` and 1-2, 3-4, 5-6,
    /// 6-6, 6-7 or 7-8): a hidden central directory, end record or member.
    static func refuseRecords(inComment comment: ArraySlice<UInt8>, file: String, at offset: UInt64) throws {
        var k = comment.startIndex
        while k + 3 < comment.endIndex {
            if comment[k] == 0x50, comment[k + 1] == 0x4B {
                let pair = (comment[k + 2], comment[k + 3])
                switch pair {
                case (1, 2), (3, 4), (5, 6), (6, 6), (6, 7), (7, 8):
                    throw CheckpointError(.corrupt, "the archive comment holds a ZIP record (signature PK\\x0\(pair.0)\\x0\(pair.1)), so other readers could see other members than ckpt",
                                          file: file, offset: offset + UInt64(k - comment.startIndex),
                                          hint: "the file is a polyglot or was tampered with; re-create it")
                default: break
                }
            }
            k += 1
        }
    }
}
