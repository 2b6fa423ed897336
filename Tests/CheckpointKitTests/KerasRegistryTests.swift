import Foundation
import Testing
@testable import CheckpointKit

/// The optimizer and layer registries: one entry per class, and what depends on them.
@Suite struct KerasRegistryTests {
    @Test func everyOptimizerEntryGivesKerasDefaults() throws {
        for kind in KerasOptimizerKind.allCases {
            let keys = kind.parameters.map(\.key)
            #expect(Set(keys).count == keys.count, "\(kind.className): a parameter is listed twice")
            #expect(keys.first == "name")
            if kind.isWrapper { continue }
            let c = try KerasOptimizerConfig(className: kind.className)
            #expect(c.kind == kind)
            #expect(c.config.objectValue?.map(\.0) == keys)
            // Every layout variant is a valid configuration of the class.
            for variant in kind.entry.layoutVariants {
                _ = try KerasOptimizerConfig(className: kind.className, overrides: variant)
            }
            // Keras 2 slot names map onto slots the class builds.
            let state = try c.stateVariables(trainable: [KerasSlotReference(path: "d/kernel", shape: [2, 3], dtype: .float32)])
            let slots = Set(state.compactMap(\.slot))
            for (_, keras3) in kind.entry.keras2Slots {
                let variants = [c] + kind.entry.layoutVariants.compactMap { try? KerasOptimizerConfig(className: kind.className, overrides: $0) }
                let all = try variants.flatMap { try $0.stateVariables(trainable: [KerasSlotReference(path: "d/kernel", shape: [2, 3], dtype: .float32)]) }
                #expect(slots.contains(keras3) || all.contains { $0.slot == keras3 }, "\(kind.className): Keras 2 slot → \(keras3)")
            }
        }
        #expect(KerasOptimizerKind.completionNames == KerasOptimizerKind.allCases.map { $0.className.lowercased() })
        for kind in KerasOptimizerKind.allCases { #expect(KerasOptimizerKind.helpList.contains(kind.className)) }
    }

    @Test func layerRegistryLookups() {
        #expect(KerasLayerCatalog.isKnown("Dense"))
        #expect(KerasLayerCatalog.isKnown("Convolution2D"))
        #expect(!KerasLayerCatalog.isKnown("MyLayer"))
        #expect(KerasLayerCatalog.isWeightless("Dropout"))
        #expect(KerasLayerCatalog.isWeightless("MaxPool2D"))
        #expect(!KerasLayerCatalog.isWeightless("LSTM"))
        #expect(!KerasLayerCatalog.isWeightless("Bidirectional"))
        for alias in KerasLayerCatalog.aliases.values { #expect(KerasLayerClass(rawValue: alias) != nil, "\(alias)") }
        #expect(KerasLayerCatalog.knownClassNames.count == KerasLayerClass.allCases.count + KerasArchitectureParser.modelClasses.count)
    }

    /// A class added by its registry entry alone: CLAHE (Keras 3.15) keeps its input's shape.
    @Test func claheKeepsTheShape() throws {
        let json = #"{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 3], "name": "x"}}, {"class_name": "ContrastLimitedAdaptiveHistogramEqualization", "config": {"name": "clahe"}}, {"class_name": "Flatten", "config": {"name": "f"}}, {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}"#
        let v = try KerasArchitecture(text: json).variables()
        #expect(v.variables.map(\.shape) == [[192, 2], [2]])
    }

    /// Every variable the engine builds for the fixture models is one its class's entry declares,
    /// with the declared trainable flag.
    @Test func builtVariablesAreDeclaredByTheirClass() throws {
        var urls = KerasFixtures.models.map { KerasFixtures.kerasDir.appendingPathComponent($0) }
        urls += KerasFixtures.extraModels.map { KerasFixtures.extraDir.appendingPathComponent($0) }
        var checked = 0
        for dir in urls {
            let arch = try KerasFixtures.architecture(dir.appendingPathComponent("architecture.json"))
            let variables = try arch.variables(options: KerasInferenceOptions(allowUnknownLayers: true))
            for v in variables.variables {
                guard let cls = KerasLayerClass(rawValue: KerasLayerCatalog.canonicalClassName(v.layerClass)),
                      case .own(let names) = cls.entry.weights else { continue }
                let declared = names.first { $0.name == v.name }
                #expect(declared != nil, "\(dir.lastPathComponent): \(v.path) is not declared by \(cls.rawValue)")
                if declared?.trainable == false { #expect(!v.trainable, "\(v.path) should not be trainable") }
                checked += 1
            }
        }
        #expect(checked > 50)
    }
}
