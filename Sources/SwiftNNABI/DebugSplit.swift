import SwiftNN
@_cdecl("snn_debug_set_split") public func snn_debug_set_split(_ on: Int32) { debugSplit = on != 0 }
@_cdecl("snn_debug_set_min_flop") public func snn_debug_set_min_flop(_ f: Int64) { minimumSplitFLOP = Int(f) }
