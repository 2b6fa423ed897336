// The tensorflow target: the bytes as a checkpoint .index (LevelDB table, BundleHeaderProto,
// BundleEntryProto; an accepted table re-built by the writer reads back equal), and as the protobuf
// messages a checkpoint or SavedModel holds (TrackableObjectGraph, re-encoded it decodes back equal;
// SavedModel signatures; SavedMetadata; a meta graph's collections).

import CheckpointKit

func fuzzTensorFlow(_ run: FuzzRun, _ bytes: [UInt8]) {
    let limits = FuzzTargets.limits
    run.step("table") {
        let entries = try TFBundle.tableEntries(bytes, file: "fuzz.index", limits: limits)
        let again = try TFBundle.tableEntries(TFBundle.table(entries), limits: limits)
        if again.count != entries.count || zip(again, entries).contains(where: { $0.key != $1.key || $0.value != $1.value }) {
            run.finding("a table re-built from its entries reads back different")
        }
    }
    run.step("bundle") {
        let bundle = try TFBundle(indexBytes: bytes, path: "fuzz.index", limits: limits)
        for e in bundle.entries { _ = e.proto.dtype.name }
        let again = try TFBundle(indexBytes: TFBundle.table(bundle.reencoded()), path: "again.index", limits: limits)
        if again.entries.map(\.key) != bundle.entries.map(\.key) || again.entries.map(\.proto) != bundle.entries.map(\.proto) || again.header != bundle.header {
            run.finding("a bundle index re-encoded reads back different")
        }
    }
    run.step("object graph") {
        let g = try TFObjectGraph.decode(bytes, limits: limits)
        if try TFObjectGraph.decode(g.encoded(), limits: limits) != g { run.finding("an object graph re-encoded decodes different") }
    }
    run.step("saved model") { _ = try TFSignature.decode(savedModel: bytes, limits: limits) }
    run.step("keras metadata") { _ = try TFKerasMetadataNode.decode(bytes, limits: limits) }
    run.step("meta graph") { _ = try TFBundle.trainableVariables(metaGraph: bytes, limits: limits) }
}
