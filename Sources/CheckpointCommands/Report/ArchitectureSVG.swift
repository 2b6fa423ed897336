import CheckpointKit
import CheckpointSystem

/// The architecture as a graph in the HTML reports, as Netron draws it: one node per layer
/// (name, class, output shape, parameters), edges for the Functional connections (a Sequential
/// model is a chain), a nested model as a group holding its layers; in a diff report each node
/// is coloured by how much its weights changed. Inline SVG; a few lines of script pan (drag)
/// and zoom (wheel, buttons); nothing is loaded.
enum ArchitectureSVG {
    static let nodeWidth = 210, nodeHeight = 52, columnGap = 24, rowGap = 30, childHeight = 18

    struct Placed {
        var layer: ModelGraph.Layer
        var x = 0, y = 0, height = 52
    }

    /// `params`: parameters per top-level layer (from the checkpoint); `change`: ‖A−B‖/‖B‖ per
    /// layer name (diff reports), nil for an inspect report.
    static func render(_ graph: ModelGraph, params: [String: Int], change: [String: Double]? = nil) -> String {
        let layers = graph.layers
        var index: [String: Int] = [:]
        for (k, l) in layers.enumerated() where index[l.name] == nil { index[l.name] = k }
        // Depth: a Sequential chain goes down; a Functional layer sits below its deepest input.
        var depth = Array(repeating: 0, count: layers.count)
        for (k, l) in layers.enumerated() {
            if graph.modelClass == "Sequential" || l.inbound.isEmpty {
                depth[k] = graph.modelClass == "Sequential" ? k : 0
            } else {
                depth[k] = (l.inbound.compactMap { index[$0.layer] }.filter { $0 < k }.map { depth[$0] }.max() ?? -1) + 1
            }
        }
        var placed = layers.map { Placed(layer: $0) }
        var rowsByDepth: [Int: [Int]] = [:]
        for k in layers.indices { rowsByDepth[depth[k], default: []].append(k) }
        let maxDepth = depth.max() ?? 0
        var y = 20
        var widest = 0
        for d in 0...max(0, maxDepth) {
            let row = rowsByDepth[d] ?? []
            var rowHeight = nodeHeight
            for (c, k) in row.enumerated() {
                placed[k].x = 20 + c * (nodeWidth + columnGap)
                placed[k].y = y
                placed[k].height = nodeHeight + layers[k].children.count * childHeight + (layers[k].children.isEmpty ? 0 : 8)
                rowHeight = max(rowHeight, placed[k].height)
            }
            widest = max(widest, row.count)
            if !row.isEmpty { y += rowHeight + rowGap }
        }
        let width = 40 + max(1, widest) * (nodeWidth + columnGap)
        let height = y + 20
        let e = HTML.escape
        var svg = "<style>\n\(css)\n</style>\n<div class=\"graph-tools\"><button type=\"button\" data-zoom=\"1.25\">+</button><button type=\"button\" data-zoom=\"0.8\">−</button><button type=\"button\" data-zoom=\"0\">fit</button> <span class=\"muted\">drag to pan, wheel to zoom</span></div>\n"
        svg += "<div class=\"graph-box\"><svg id=\"architecture\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(width) \(height)\" data-w=\"\(width)\" data-h=\"\(height)\" width=\"100%\" height=\"\(min(height, 640))\" role=\"img\" aria-label=\"architecture graph\">\n"
        svg += "<defs><marker id=\"arrow\" viewBox=\"0 0 8 8\" refX=\"8\" refY=\"4\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L8,4 L0,8 z\" class=\"edge-head\"/></marker></defs>\n"
        // Edges first, under the nodes.
        func edge(_ from: Placed, _ to: Placed) -> String {
            let x1 = from.x + nodeWidth / 2, y1 = from.y + from.height, x2 = to.x + nodeWidth / 2, y2 = to.y
            let mid = (y1 + y2) / 2
            return "<path class=\"edge\" d=\"M\(x1),\(y1) C\(x1),\(mid) \(x2),\(mid) \(x2),\(y2 - 2)\" marker-end=\"url(#arrow)\"/>\n"
        }
        for (k, p) in placed.enumerated() {
            if graph.modelClass == "Sequential" {
                if k > 0 { svg += edge(placed[k - 1], p) }
            } else {
                var seen = Set<Int>()
                for ref in p.layer.inbound { if let s = index[ref.layer], s != k, seen.insert(s).inserted { svg += edge(placed[s], p) } }
            }
        }
        for p in placed {
            let l = p.layer
            let n = params[l.name] ?? l.inferredParams
            var cls = l.isModel ? "node group" : "node"
            var fill = ""
            var title = "\(l.name) (\(l.className)) · output \(l.outputShapeText) · \(Fmt.count(n)) params"
            if let change {
                if let r = change[l.name] {
                    fill = " style=\"fill:\(color(r))\""
                    title += " · ‖A−B‖/‖B‖ \(Fmt.g(r, 3))"
                } else {
                    cls += " nochange"
                }
            }
            svg += "<g class=\"\(cls)\" data-layer=\"\(e(l.name))\"><title>\(e(title))</title>"
            svg += "<rect x=\"\(p.x)\" y=\"\(p.y)\" width=\"\(nodeWidth)\" height=\"\(p.height)\" rx=\"6\"\(fill)/>"
            svg += "<text x=\"\(p.x + 8)\" y=\"\(p.y + 16)\" class=\"n-name\">\(e(clip(l.name, 30)))</text>"
            svg += "<text x=\"\(p.x + 8)\" y=\"\(p.y + 31)\" class=\"n-class\">\(e(clip(l.className, 18)))</text>"
            svg += "<text x=\"\(p.x + nodeWidth - 8)\" y=\"\(p.y + 31)\" class=\"n-params\" text-anchor=\"end\">\(Fmt.count(n)) params</text>"
            svg += "<text x=\"\(p.x + 8)\" y=\"\(p.y + 46)\" class=\"n-shape\">\(e(clip(l.outputShapeText, 30)))</text>"
            for (c, child) in l.children.enumerated() {
                let cy = p.y + nodeHeight + c * childHeight
                svg += "<g class=\"child\" data-layer=\"\(e(child.name))\"><rect x=\"\(p.x + 8)\" y=\"\(cy)\" width=\"\(nodeWidth - 16)\" height=\"\(childHeight - 3)\" rx=\"3\"/>"
                svg += "<text x=\"\(p.x + 13)\" y=\"\(cy + 12)\" class=\"n-child\">\(e(clip("\(child.name) (\(child.className)) \(child.outputShapeText)", 30)))</text></g>"
            }
            svg += "</g>\n"
        }
        svg += "</svg></div>\n"
        if change != nil {
            svg += "<p class=\"muted\">Node colour: ‖A−B‖/‖B‖ of the layer's weights, log scale: <span class=\"swatch\" style=\"background:\(color(1e-8))\"></span> 1e-8 … <span class=\"swatch\" style=\"background:\(color(1))\"></span> 1; grey: no weights compared or no change.</p>\n"
        }
        return svg
    }

    static func clip(_ s: String, _ n: Int) -> String { s.count > n ? String(s.prefix(n - 1)) + "…" : s }

    /// Light yellow (tiny change) to deep red (the weights changed as much as they are large).
    static func color(_ r: Double) -> String {
        guard r > 0 else { return "#e8eaed" }
        let f = r.isInfinite ? 1 : max(0, min(1, (Libm.log10(max(r, 1e-12)) + 8) / 8))
        let hue = Int((55 - 55 * f).rounded()), light = Int((90 - 26 * f).rounded())
        return "hsl(\(hue), 90%, \(light)%)"
    }

    /// Pan (drag) and zoom (wheel, buttons) by moving the viewBox; about twenty lines.
    static let script = """
    (function(){var s=document.getElementById('architecture');if(!s)return;
    var W=+s.dataset.w,H=+s.dataset.h,r0=s.getBoundingClientRect(),vw=Math.max(W,r0.width||W),v=[0,0,vw,vw*((r0.height||H)/(r0.width||W))];
    function set(){s.setAttribute('viewBox',v.join(' '));}
    function zoom(f,cx,cy){if(!f){v=[0,0,W,H];set();return;}var w=v[2]/f,h=v[3]/f;
    v=[cx-(cx-v[0])/f,cy-(cy-v[1])/f,w,h];set();}
    function pt(e){var r=s.getBoundingClientRect();return [v[0]+(e.clientX-r.left)/r.width*v[2],v[1]+(e.clientY-r.top)/r.height*v[3]];}
    s.addEventListener('wheel',function(e){e.preventDefault();var p=pt(e);zoom(e.deltaY<0?1.2:1/1.2,p[0],p[1]);},{passive:false});
    var d=null;s.addEventListener('mousedown',function(e){d=[e.clientX,e.clientY];});
    window.addEventListener('mouseup',function(){d=null;});
    window.addEventListener('mousemove',function(e){if(!d)return;var r=s.getBoundingClientRect();
    v[0]-=(e.clientX-d[0])/r.width*v[2];v[1]-=(e.clientY-d[1])/r.height*v[3];d=[e.clientX,e.clientY];set();});
    document.querySelectorAll('[data-zoom]').forEach(function(b){b.addEventListener('click',function(){
    var f=+b.dataset.zoom;zoom(f,v[0]+v[2]/2,v[1]+v[3]/2);});});set();})();
    """

    static let css = """
    .graph-box{border:1px solid #d0d4da;border-radius:6px;overflow:hidden;cursor:grab;background:#fbfcfd}
    .graph-tools{margin:.3em 0}.graph-tools button{min-width:2.2em;margin-right:.2em}
    #architecture .node rect{fill:#eef3fb;stroke:#5b7bb5;stroke-width:1}
    #architecture .node.group>rect{fill:#f6f1fb;stroke:#8a63b8;stroke-dasharray:4 2}
    #architecture .child rect{fill:#fff;stroke:#b9a5d6}
    #architecture .node.nochange>rect{fill:#e8eaed;stroke:#9aa0a6}
    #architecture text{font:12px system-ui,sans-serif;fill:#1f2328}
    #architecture .n-name{font-weight:600}#architecture .n-class{fill:#5b6570}
    #architecture .n-shape,#architecture .n-child{font-family:ui-monospace,monospace;font-size:11px}
    #architecture .n-params{fill:#5b6570;font-size:11px}
    #architecture .edge{fill:none;stroke:#8c959f;stroke-width:1.3}#architecture .edge-head{fill:#8c959f}
    .swatch{display:inline-block;width:1em;height:.8em;vertical-align:middle;border:1px solid #999}
    """
}
