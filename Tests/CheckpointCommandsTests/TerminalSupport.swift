import Foundation
import Testing
import CheckpointTestSupport
#if canImport(Glibc)
import Glibc
#endif
@testable import CheckpointCommands
@testable import CheckpointKit

/// Runs the built `ckpt` executable as a separate process, with stdout and/or stderr on a
/// pseudo-terminal (posix_openpt) or on plain files, so tests see exactly what a person at a
/// terminal, or a script reading a pipe, would get.
enum Terminal {

    struct Output {
        var status: Int32
        /// What the terminal showed (both streams that were on it, in order).
        var terminal: String
        /// The streams that were not on the terminal.
        var out: String
        var err: String
    }

    enum Stream { case out, err }

    /// Runs `ckpt args` with `onTerminal` streams on a pseudo-terminal, the others on files.
    /// The environment is this process's, without NO_COLOR, plus `environment`.
    static func run(_ args: [String], onTerminal: Set<Stream>, environment: [String: String] = [:]) throws -> Output {
        let exe = try #require(CkptExecutable.path, "the ckpt executable is not built (swift build)")
        // posix_openpt/unlockpt/ptsname are not in Swift's Glibc module: the same through
        // /dev/ptmx and its ioctls (Linux: TIOCSPTLCK, TIOCGPTN).
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard master >= 0, ioctl(master, 0x4004_5431, &unlock) == 0, ioctl(master, 0x8004_5430, &number) == 0 else {
            throw CheckpointError(.io, "no pseudo-terminal")
        }
        let slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
        guard slave >= 0 else { throw CheckpointError(.io, "cannot open the pseudo-terminal's slave") }
        // A wide terminal, so nothing wraps.
        var size = winsize(ws_row: 50, ws_col: 200, ws_xpixel: 0, ws_ypixel: 0)
        _ = ioctl(slave, UInt(TIOCSWINSZ), &size)

        let tty = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        var env = ["TERM": "xterm-256color"]
        for (k, v) in environment { env[k] = v }
        // Read the terminal while the child runs (a full pty buffer would block it).
        let collected = Collected()
        let reader = Thread {
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(master, &buf, buf.count)
                if n > 0 { collected.append(buf[0..<n]); continue }
                if n < 0 && errno == EINTR { continue }
                break   // EIO: every slave descriptor is closed
            }
            collected.finish()
        }
        let child = try ChildProcess(exe, args, environment: env, removing: ["NO_COLOR", "CKPT_PROGRESS_DELAY"],
                                     cwd: CLI.packageRoot.path, separateStreams: true,
                                     stdout: onTerminal.contains(.out) ? tty : nil, stderr: onTerminal.contains(.err) ? tty : nil)
        close(slave)
        reader.start()
        let r = child.wait()
        collected.wait()
        close(master)
        return Output(status: r.status, terminal: collected.text, out: r.output, err: r.errorOutput)
    }

    final class Collected: @unchecked Sendable {
        private let lock = NSCondition()
        private var bytes: [UInt8] = []
        private var done = false
        func append(_ b: ArraySlice<UInt8>) { lock.lock(); bytes += b; lock.unlock() }
        func finish() { lock.lock(); done = true; lock.broadcast(); lock.unlock() }
        func wait() {
            lock.lock()
            let deadline = Date().addingTimeInterval(30)
            while !done && Date() < deadline { _ = lock.wait(until: deadline) }
            lock.unlock()
        }
        var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: bytes, as: UTF8.self) }
    }
}

/// Headless Chromium (its path: `Chromium.path` in CheckpointTestSupport), for the HTML report tests.
extension Chromium {
    static func arguments(_ dir: String) -> [String] {
        ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-extensions",
         "--user-data-dir=\(dir)/profile", "--window-size=1200,1600"]
    }

    /// A screenshot of `html` (a file) as a PNG's bytes.
    static func screenshot(_ html: String, dir: String) throws -> [UInt8] {
        let exe = try #require(path)
        let png = dir + "/shot.png"
        let r = try TestEnv.run("timeout", ["120", exe] + arguments(dir) + ["--screenshot=\(png)", "file://" + html])
        #expect(r.status == 0, "chromium: \(r.output)")
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: png)))
    }

    /// The DOM after the page loaded, serialized.
    static func dom(_ html: String, dir: String) throws -> String {
        let exe = try #require(path)
        let r = try TestEnv.run("timeout", ["120", exe] + arguments(dir) + ["--dump-dom", "file://" + html])
        #expect(r.status == 0)
        return r.output
    }
}

/// Just enough PNG decoding to look at a screenshot: 8-bit RGB or RGBA, not interlaced.
struct PNGImage {
    var width = 0, height = 0
    /// RGB triples, row by row.
    var rgb: [UInt8] = []

    init(_ data: [UInt8]) throws {
        func be32(_ i: Int) -> Int { Int(data[i]) << 24 | Int(data[i + 1]) << 16 | Int(data[i + 2]) << 8 | Int(data[i + 3]) }
        guard data.count > 8, data[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else {
            throw CheckpointError(.notRecognized, "not a PNG")
        }
        var i = 8, idat: [UInt8] = [], colorType = 0, depth = 0, interlace = 0
        while i + 8 <= data.count {
            let length = be32(i)
            let type = String(decoding: data[(i + 4)..<(i + 8)], as: UTF8.self)
            guard i + 12 + length <= data.count else { break }
            let body = data[(i + 8)..<(i + 8 + length)]
            if type == "IHDR" {
                width = be32(i + 8); height = be32(i + 12)
                depth = Int(body[body.startIndex + 8]); colorType = Int(body[body.startIndex + 9]); interlace = Int(body[body.startIndex + 12])
            } else if type == "IDAT" {
                idat += body
            } else if type == "IEND" { break }
            i += 12 + length
        }
        guard depth == 8, interlace == 0, colorType == 2 || colorType == 6, idat.count > 2 else {
            throw CheckpointError(.unsupported, "PNG with depth \(depth), colour type \(colorType), interlace \(interlace)")
        }
        let bpp = colorType == 6 ? 4 : 3
        let stride = width * bpp
        var raw = [UInt8](repeating: 0, count: height * (stride + 1))
        let inflater = try Inflater()
        let zdata = Array(idat.dropFirst(2))   // zlib header; the Adler-32 trailer is left unread
        var consumed = 0, produced = 0
        while !inflater.finished && produced < raw.count {
            let (c, p) = try zdata[consumed...].withUnsafeBytes { input in
                try raw.withUnsafeMutableBytes { out in
                    try inflater.inflate(input, into: UnsafeMutableRawBufferPointer(rebasing: out[produced...]))
                }
            }
            consumed += c; produced += p
            if c == 0 && p == 0 { break }
        }
        // Undo the filters.
        var pixels = [UInt8](repeating: 0, count: height * stride)
        for y in 0..<height {
            let filter = raw[y * (stride + 1)]
            for x in 0..<stride {
                let v = raw[y * (stride + 1) + 1 + x]
                let a = x >= bpp ? Int(pixels[y * stride + x - bpp]) : 0
                let b = y > 0 ? Int(pixels[(y - 1) * stride + x]) : 0
                let c = x >= bpp && y > 0 ? Int(pixels[(y - 1) * stride + x - bpp]) : 0
                var out: Int
                switch filter {
                case 1: out = Int(v) + a
                case 2: out = Int(v) + b
                case 3: out = Int(v) + (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    out = Int(v) + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)
                default: out = Int(v)
                }
                pixels[y * stride + x] = UInt8(truncatingIfNeeded: out)
            }
        }
        rgb.reserveCapacity(width * height * 3)
        for k in 0..<(width * height) { rgb += pixels[(k * bpp)..<(k * bpp + 3)] }
    }

    /// How many pixels are within `tolerance` of the colour on every channel.
    func count(near color: (Int, Int, Int), tolerance: Int = 24) -> Int {
        var n = 0
        for k in 0..<(width * height) {
            if abs(Int(rgb[3 * k]) - color.0) <= tolerance && abs(Int(rgb[3 * k + 1]) - color.1) <= tolerance && abs(Int(rgb[3 * k + 2]) - color.2) <= tolerance { n += 1 }
        }
        return n
    }

    /// Distinct colours (a blank page has one).
    var distinctColors: Int {
        var seen = Set<Int>()
        for k in 0..<(width * height) { seen.insert(Int(rgb[3 * k]) << 16 | Int(rgb[3 * k + 1]) << 8 | Int(rgb[3 * k + 2])) }
        return seen.count
    }
}
