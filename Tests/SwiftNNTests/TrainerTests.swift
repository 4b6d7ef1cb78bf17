// The native trainer's resume bookkeeping.
import XCTest
@testable import SwiftNNEngine

final class TrainerTests: XCTestCase {
    func testResumingInAStepScheduleMultipliesTheDecayUpAsTheUninterruptedRunDid() throws {
        let spec = try NetworkSpec(dims: [3, 2])
        let params = UnsafeMutablePointer<Double>.allocate(capacity: 8)
        params.initialize(repeating: 0, count: 8)
        defer { params.deallocate() }
        let trainer = try Trainer<Double>(spec: spec, params: params, running: nil)
        trainer.setOptimizer(.sgd, UpdateHyperparameters(learningRate: 0.3), reg: 0)
        trainer.setSchedule(.step, decay: 0.85, warmup: 0, totalIterations: 0, patience: 0)
        var factor = 1.0
        for epoch in 0...12 {
            trainer.setProgress(iteration: epoch * 10, epoch: epoch, bestValidationAccuracy: 0.5)
            XCTAssertEqual(trainer.learningRate, 0.3 * factor, "epoch \(epoch)")  // bit for bit
            factor *= 0.85
        }
    }
}
