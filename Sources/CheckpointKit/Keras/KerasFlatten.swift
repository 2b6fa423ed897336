// Flattening a built model: variables in `model.weights` order with their `model.weights.h5`
// datasets, and the HDF5 groups in the order Keras 3's saver visits them.

extension KerasModelEngine {
    static func joinPath(_ parent: String, _ attribute: String) -> String {
        parent.isEmpty ? attribute : parent + "/" + attribute
    }

    /// Walks the built tree: variables in `model.weights` order with their H5 datasets, and the
    /// H5 groups in the saver's visiting order.
    /// `unknownPositions`: for each object whose variables are unknown (by its H5 group), how many
    /// known variables come before it in `model.weights`.
    static func flatten(_ object: BuiltObject, objectPath: String, layer: (name: String, className: String)?,
                        variables: inout [KerasVariable], groups: inout [KerasH5Group], unknownPositions: inout [String: Int]) {
        flattenVariables(object, objectPath: objectPath, layer: layer, into: &variables, unknownPositions: &unknownPositions)
        flattenGroups(object, objectPath: objectPath, into: &groups)
    }

    private static func flattenVariables(_ object: BuiltObject, objectPath: String, layer: (name: String, className: String)?,
                                         into variables: inout [KerasVariable], unknownPositions: inout [String: Int]) {
        if object.unknownReason != nil { unknownPositions[objectPath] = variables.count }
        let groupPath = joinPath(objectPath, "vars")
        for (i, v) in object.ownInSaveOrder.enumerated() {
            variables.append(KerasVariable(index: variables.count, path: v.path, name: v.name, shape: v.shape, dtype: v.dtype,
                                           trainable: v.trainable, layer: layer?.name ?? object.objectName,
                                           layerClass: layer?.className ?? object.className,
                                           h5Path: groupPath + "/\(i)", keras2Name: v.keras2Name, scopedPath: v.scopedPath))
        }
        for child in object.children {
            let top = layer ?? (object.isModel && objectPath.isEmpty ? nil : (object.objectName, object.className))
            let childLayer = top ?? (child.object.objectName, child.object.className)
            flattenVariables(child.object, objectPath: joinPath(objectPath, child.attribute), layer: childLayer, into: &variables,
                             unknownPositions: &unknownPositions)
        }
    }

    /// `_name_key`: public attributes first, then `_`-prefixed ones, each sorted.
    static func attributeSortKey(_ a: String) -> String { a.hasPrefix("_") ? "~" + a : a }

    private static func flattenGroups(_ object: BuiltObject, objectPath: String, into groups: inout [KerasH5Group]) {
        groups.append(KerasH5Group(path: joinPath(objectPath, "vars"), objectName: object.objectName,
                                   datasetCount: object.unknownReason == nil ? object.own.count : nil))
        guard object.unknownReason == nil else { return }
        // Attributes in `_name_key` order; a list attribute (`cells/...`) keeps its list order.
        let ordered = object.isModel ? object.children
            : object.children.enumerated().sorted { a, b in
                let ka = attributeSortKey(String(a.element.attribute.split(separator: "/").first ?? ""))
                let kb = attributeSortKey(String(b.element.attribute.split(separator: "/").first ?? ""))
                return ka != kb ? ka < kb : a.offset < b.offset
            }.map(\.element)
        for child in ordered {
            flattenGroups(child.object, objectPath: joinPath(objectPath, child.attribute), into: &groups)
        }
    }

    static func collectUnknown(_ object: BuiltObject, objectPath: String, into out: inout [KerasUnknownLayer]) {
        if let reason = object.unknownReason {
            var prefixes: [String] = []
            for s in [object.canonicalScope, object.scopedScope] where !s.isEmpty {
                let p = s.joined(separator: "/") + "/"
                if !prefixes.contains(p) { prefixes.append(p) }
            }
            out.append(KerasUnknownLayer(name: object.objectName, className: object.className, reason: reason,
                                         h5Group: objectPath, pathPrefixes: prefixes))
            return
        }
        for child in object.children {
            collectUnknown(child.object, objectPath: joinPath(objectPath, child.attribute), into: &out)
        }
    }
}
