// Live opaque handles. A handle is valid only while registered, so a destroyed, foreign or
// NULL handle gives SNN_E_HANDLE instead of touching freed memory.
import Glibc
import SwiftNNEngine

final class HandleRegistry: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var live: [UnsafeMutableRawPointer: AnyObject] = [:]

    init() { pthread_mutex_init(&lock, nil) }

    func register(_ object: AnyObject) -> UnsafeMutableRawPointer {
        let handle = Unmanaged.passUnretained(object).toOpaque()
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        live[handle] = object
        return handle
    }

    func lookup<O>(_ handle: UnsafeMutableRawPointer?, as _: O.Type, _ what: String) throws(EngineError) -> O {
        guard let handle else { throw EngineError(.badHandle, "\(what) is NULL") }
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        guard let object = live[handle] else {
            throw EngineError(.badHandle, "\(what) is not a live handle (destroyed, or never created by this library)")
        }
        guard let typed = object as? O else {
            throw EngineError(.badHandle, "\(what) is a handle of another kind or precision")
        }
        return typed
    }

    func remove(_ handle: UnsafeMutableRawPointer?, _ what: String) throws(EngineError) {
        guard let handle else { return }
        pthread_mutex_lock(&lock); defer { pthread_mutex_unlock(&lock) }
        guard live.removeValue(forKey: handle) != nil else {
            throw EngineError(.badHandle, "\(what) is not a live handle (already destroyed?)")
        }
    }
}

let handles = HandleRegistry()
