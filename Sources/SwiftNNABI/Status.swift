// The one error channel of the C ABI: every export returns SNN_OK or a negative SNN_E_*
// code and leaves a message for snn_last_error() on the calling thread.
import Glibc
import SwiftNNEngine

private let lastErrorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

func setLastError(_ message: String) {
    let previous = pthread_getspecific(lastErrorKey)
    pthread_setspecific(lastErrorKey, strdup(message))
    free(previous)
}

/// Runs an export's body, turning a thrown EngineError into its status code.
@inline(__always)
func guarded(_ body: () throws(EngineError) -> Void) -> Int32 {
    do {
        try body()
        return 0
    } catch {
        setLastError(error.message)
        return error.status.rawValue
    }
}

@_cdecl("snn_last_error")
public func snn_last_error() -> UnsafePointer<CChar> {
    guard let message = pthread_getspecific(lastErrorKey) else {
        // No error yet on this thread: the empty string, a constant of the binary.
        return UnsafeRawPointer(("" as StaticString).utf8Start).assumingMemoryBound(to: CChar.self)
    }
    return UnsafePointer(message.assumingMemoryBound(to: CChar.self))
}


@_cdecl("snn_thread_count")
public func snn_thread_count() -> Int64 { Int64(threadCount) }

@_cdecl("snn_version")
public func snn_version() -> UnsafePointer<CChar> {
    UnsafeRawPointer(swiftnnVersion.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("snn_set_thread_count")
public func snn_set_thread_count(_ threads: Int64) -> Int32 {
    guarded { () throws(EngineError) in
        guard threads >= 1 && threads <= Int64(maximumThreadCount) else {
            throw EngineError(.badValue, "threads = \(threads), expected 1 ... \(maximumThreadCount)")
        }
        try setThreadCount(Int(threads))
    }
}

@_cdecl("snn_max_thread_count")
public func snn_max_thread_count() -> Int64 { Int64(maximumThreadCount) }
