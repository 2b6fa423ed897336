/// The outline of a model JSON: its class and name and each top-level layer's name and class,
/// read without building the whole JSON (a large model's is hundreds of KB; `inspect` only needs
/// this much). For everything else use ``KerasArchitecture``.
public struct KerasModelOutline: Sendable, Equatable {
    public struct Layer: Sendable, Equatable {
        public var name: String
        public var className: String
    }

    public var modelClass: String
    public var name: String
    /// Top-level layers in the JSON's order; a Sequential's InputLayer is left out, as Keras's
    /// `model.layers` leaves it out.
    public var layers: [Layer]
    public var dialect: KerasDialect

    /// nil when `bytes` is not a model JSON (not an object, invalid JSON).
    public static func read(_ bytes: [UInt8]) -> KerasModelOutline? {
        var cls = "Model", name = ""
        var dialect = KerasDialect.keras2
        var layers: [Layer] = []
        do {
            try bytes.withUnsafeBufferPointer { buf in
                try JSONParser.read(buf) { p in
                    try p.readObject { p, key in
                        switch key {
                        case "class_name": cls = try p.readString()
                        case "module", "registered_name":
                            dialect = .keras3
                            try p.skipValue()
                        case "config":
                            try p.readObject { p, key in
                                switch key {
                                case "name": name = (try? p.readString()) ?? ""
                                case "layers":
                                    try p.readArray { p, _ in
                                        var lc: String?, ln: String?, topName: String?
                                        try p.readObject { p, key in
                                            switch key {
                                            case "class_name": lc = try p.readString()
                                            case "name": topName = try? p.readString()
                                            case "config":
                                                try p.readObject { p, key in
                                                    if key == "name", let n = try? p.readString() { ln = n } else { try p.skipValue() }
                                                }
                                            default: try p.skipValue()
                                            }
                                        }
                                        if let lc, let n = ln ?? topName { layers.append(Layer(name: n, className: lc)) }
                                    }
                                default: try p.skipValue()
                                }
                            }
                        default: try p.skipValue()
                        }
                    }
                }
            }
        } catch {
            return nil
        }
        if cls == "Sequential" { layers.removeAll { $0.className == "InputLayer" } }
        return KerasModelOutline(modelClass: cls, name: name, layers: layers, dialect: dialect)
    }
}
