// Calls the exports of include/swiftnn.h exactly as a C caller would: through the header's
// Clang module only, with status codes and snn_last_error() as the only error channel.
import CSwiftNN
import Foundation
import XCTest

/// This thread's last error message.
private func lastError() -> String { String(cString: snn_last_error()) }

/// Asserts `status` is `expected` and that snn_last_error() contains every fragment.
private func assertStatus(_ status: Int32, _ expected: Int32, mentions fragments: [String], _ what: String,
                          file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(status, expected, "\(what): status \(status), message \"\(lastError())\"", file: file, line: line)
    let message = lastError()
    for fragment in fragments {
        XCTAssertTrue(message.contains(fragment), "\(what): message \"\(message)\" does not mention \"\(fragment)\"",
                      file: file, line: line)
    }
}

// x (2, 2), w (2, 3), b (3) and out = x · w + b, exact in both precisions.
private let x64: [Double] = [1, 2, 3, 4]
private let w64: [Double] = [1, 0, -1, 2, 1, 0]
private let b64: [Double] = [0.5, -1, 2]
private let out64: [Double] = [5.5, 1, 1, 11.5, 3, -1]

final class CABITests: XCTestCase {
    // MARK: success

    func testVersionIsANonEmptyString() {
        let version = String(cString: snn_version())
        XCTAssertFalse(version.isEmpty)
        XCTAssertNotNil(version.range(of: #"^\d+\.\d+\.\d+"#, options: .regularExpression), "version \"\(version)\"")
    }

    func testAffineForwardF64ReturnsOKAndKnownValues() {
        var out = [Double](repeating: .nan, count: 6)
        XCTAssertEqual(snn_affine_forward_f64(&out, x64, w64, b64, 2, 2, 3), SNN_OK, lastError())
        XCTAssertEqual(out, out64)
    }

    func testAffineForwardF32ReturnsOKAndKnownValues() {
        var out = [Float](repeating: .nan, count: 6)
        let x = x64.map(Float.init), w = w64.map(Float.init), b = b64.map(Float.init)
        XCTAssertEqual(snn_affine_forward_f32(&out, x, w, b, 2, 2, 3), SNN_OK, lastError())
        XCTAssertEqual(out, out64.map(Float.init))
    }

    func testAffineBackwardAcceptsNullDx() {
        let dout: [Double] = [1, 0, 0, 0, 1, 1]
        var dw = [Double](repeating: .nan, count: 6), db = [Double](repeating: .nan, count: 3)
        XCTAssertEqual(snn_affine_backward_f64(nil, &dw, &db, dout, x64, w64, 2, 2, 3), SNN_OK, lastError())
        // dw = xᵀ · dout, db = column sums of dout
        XCTAssertEqual(dw, [1, 3, 3, 2, 4, 4])
        XCTAssertEqual(db, [1, 1, 1])
    }

    func testSoftmaxLossAcceptsNullDx() {
        var loss = Double.nan
        let x = [Double](repeating: 0, count: 6)
        XCTAssertEqual(snn_softmax_loss_f64(&loss, nil, x, [0, 2], 2, 3), SNN_OK, lastError())
        XCTAssertEqual(loss, log(3), accuracy: 1e-12)
        var loss32 = Double.nan
        XCTAssertEqual(snn_softmax_loss_f32(&loss32, nil, [Float](repeating: 0, count: 6), [0, 2], 2, 3), SNN_OK,
                       lastError())
        XCTAssertEqual(loss32, log(3), accuracy: 1e-6)
    }

    func testBatchNormTestModeAcceptsNullStatistics() {
        var out = [Double](repeating: .nan, count: 4)
        var runningMean: [Double] = [1, -1], runningVar: [Double] = [4, 0.25]
        let status = snn_batchnorm_forward_f64(&out, nil, nil, nil, &runningMean, &runningVar,
                                               [3, 0, 5, -2], [1, 2], [0, 1], 2, 2, 1e-300, 0.9, SNN_MODE_TEST)
        XCTAssertEqual(status, SNN_OK, lastError())
        XCTAssertEqual(out, [1, 5, 2, -3])
        XCTAssertEqual(runningMean, [1, -1], "test mode leaves the running mean alone")
        XCTAssertEqual(runningVar, [4, 0.25], "test mode leaves the running variance alone")
    }

    // MARK: errors

    func testNullRequiredPointerReturnsENullNamingTheArgument() {
        var out = [Double](repeating: 0, count: 6)
        assertStatus(snn_affine_forward_f64(nil, x64, w64, b64, 2, 2, 3), SNN_E_NULL, mentions: ["out", "NULL"],
                     "out = NULL")
        assertStatus(snn_affine_forward_f64(&out, x64, nil, b64, 2, 2, 3), SNN_E_NULL, mentions: ["w is NULL"],
                     "w = NULL")
        assertStatus(snn_affine_forward_f64(&out, x64, w64, nil, 2, 2, 3), SNN_E_NULL, mentions: ["b is NULL"],
                     "b = NULL")
        var outF = [Float](repeating: 0, count: 6)
        assertStatus(snn_affine_forward_f32(&outF, nil, [1, 2, 3, 4, 5, 6], [1, 2, 3], 2, 2, 3), SNN_E_NULL,
                     mentions: ["x is NULL"], "f32 x = NULL")
        var loss = 0.0
        assertStatus(snn_softmax_loss_f64(&loss, nil, [0, 0, 0], nil, 1, 3), SNN_E_NULL, mentions: ["y is NULL"],
                     "y = NULL")
        assertStatus(snn_softmax_loss_f64(nil, nil, [0, 0, 0], [0], 1, 3), SNN_E_NULL, mentions: ["loss is NULL"],
                     "loss = NULL")
        var dx = [Double](repeating: 0, count: 4)
        assertStatus(snn_dropout_backward_f64(&dx, [1, 2, 3, 4], nil, 4), SNN_E_NULL, mentions: ["mask is NULL"],
                     "mask = NULL")
    }

    func testZeroSizeReturnsESize() {
        var out = [Double](repeating: 0, count: 6)
        assertStatus(snn_affine_forward_f64(&out, x64, w64, b64, 0, 2, 3), SNN_E_SIZE, mentions: ["n = 0"], "n = 0")
        assertStatus(snn_affine_forward_f64(&out, x64, w64, b64, 2, 2, 0), SNN_E_SIZE, mentions: ["m = 0"], "m = 0")
        var relu = [Double](repeating: 0, count: 1)
        assertStatus(snn_relu_forward_f64(&relu, [1], 0), SNN_E_SIZE, mentions: ["count = 0"], "count = 0")
        var loss = 0.0
        assertStatus(snn_softmax_loss_f64(&loss, nil, [0], [0], 1, 0), SNN_E_SIZE, mentions: ["c = 0"], "c = 0")
    }

    func testNegativeSizeReturnsESize() {
        var out = [Double](repeating: 0, count: 6)
        assertStatus(snn_affine_forward_f64(&out, x64, w64, b64, 2, -3, 3), SNN_E_SIZE, mentions: ["d = -3"],
                     "d = -3")
        assertStatus(snn_affine_forward_f64(&out, x64, w64, b64, -1, 2, 3), SNN_E_SIZE, mentions: ["n = -1"],
                     "n = -1")
        var outF = [Float](repeating: 0, count: 4), maskF = [Float](repeating: 0, count: 4)
        assertStatus(snn_dropout_forward_f32(&outF, &maskF, [1, 2, 3, 4], Int64.min, 0.5, 1), SNN_E_SIZE,
                     mentions: ["count"], "count = Int64.min")
        var mean = [Double](repeating: 0, count: 2), invStd = [Double](repeating: 0, count: 2)
        assertStatus(snn_layernorm_forward_f64(&out, &mean, &invStd, x64, [1, 1], [0, 0], 2, -2, 1e-5), SNN_E_SIZE,
                     mentions: ["d = -2"], "layernorm d = -2")
    }

    func testLabelOutOfRangeReturnsEValueNamingY() {
        var loss = 0.0, dx = [Double](repeating: 0, count: 6)
        let x = [Double](repeating: 0, count: 6)
        assertStatus(snn_softmax_loss_f64(&loss, &dx, x, [0, 3], 2, 3), SNN_E_VALUE, mentions: ["y[1]", "3"],
                     "label 3 of 3 classes")
        assertStatus(snn_softmax_loss_f64(&loss, &dx, x, [-1, 0], 2, 3), SNN_E_VALUE, mentions: ["y[0]", "-1"],
                     "label -1")
        assertStatus(snn_svm_loss_f64(&loss, &dx, x, [0, 9], 2, 3), SNN_E_VALUE, mentions: ["y[1]"], "svm label 9")
    }

    func testDropoutKeepProbabilityOutsideRangeReturnsEValueNamingP() {
        var out = [Double](repeating: 0, count: 4), mask = [Double](repeating: 0, count: 4)
        let x: [Double] = [1, 2, 3, 4]
        for p in [0, 1.5, -0.5, Double.nan, .infinity] {
            assertStatus(snn_dropout_forward_f64(&out, &mask, x, 4, p, 42), SNN_E_VALUE, mentions: ["p = "],
                         "p = \(p)")
            XCTAssertTrue(lastError().hasPrefix("p "), "message \"\(lastError())\" should start with the argument p")
        }
        var outF = [Float](repeating: 0, count: 4), maskF = [Float](repeating: 0, count: 4)
        assertStatus(snn_dropout_forward_f32(&outF, &maskF, [1, 2, 3, 4], 4, 0, 42), SNN_E_VALUE, mentions: ["p = "],
                     "f32 p = 0")
        XCTAssertEqual(snn_dropout_forward_f64(&out, &mask, x, 4, 1, 42), SNN_OK, "p = 1 is allowed")
        XCTAssertEqual(mask, [1, 1, 1, 1])
    }

    func testUnknownBatchNormModeReturnsEValue() {
        var out = [Double](repeating: 0, count: 4), mean = [0.0, 0], variance = [0.0, 0], invStd = [0.0, 0]
        var runningMean = [0.0, 0], runningVar = [1.0, 1]
        let status = snn_batchnorm_forward_f64(&out, &mean, &variance, &invStd, &runningMean, &runningVar,
                                               [1, 2, 3, 4], [1, 1], [0, 0], 2, 2, 1e-5, 0.9, 7)
        assertStatus(status, SNN_E_VALUE, mentions: ["mode", "7"], "mode 7")
    }

    func testBadBatchNormHyperparametersReturnEValue() {
        var out = [Double](repeating: 0, count: 4), mean = [0.0, 0], variance = [0.0, 0], invStd = [0.0, 0]
        var runningMean = [0.0, 0], runningVar = [1.0, 1]
        assertStatus(snn_batchnorm_forward_f64(&out, &mean, &variance, &invStd, &runningMean, &runningVar,
                                               [1, 2, 3, 4], [1, 1], [0, 0], 2, 2, .nan, 0.9, SNN_MODE_TRAIN),
                     SNN_E_VALUE, mentions: ["eps"], "eps = NaN")
        assertStatus(snn_batchnorm_forward_f64(&out, &mean, &variance, &invStd, &runningMean, &runningVar,
                                               [1, 1, 1, 1], [1, 1], [0, 0], 2, 2, 0, 0.9, SNN_MODE_TRAIN),
                     SNN_E_VALUE, mentions: ["eps"], "eps = 0 would divide by zero on a constant column")
        assertStatus(snn_batchnorm_forward_f64(&out, &mean, &variance, &invStd, &runningMean, &runningVar,
                                               [1, 2, 3, 4], [1, 1], [0, 0], 2, 2, 1e-5, 1.5, SNN_MODE_TRAIN),
                     SNN_E_VALUE, mentions: ["momentum"], "momentum = 1.5")
    }

    func testNaNInSoftmaxScoresReturnsENonFinite() {
        var loss = 0.0, dx = [Double](repeating: 0, count: 6)
        assertStatus(snn_softmax_loss_f64(&loss, &dx, [0, .nan, 1, 2, 3, 4], [0, 1], 2, 3), SNN_E_NONFINITE,
                     mentions: ["NaN"], "NaN in f64 scores")
        var dxF = [Float](repeating: 0, count: 6)
        assertStatus(snn_softmax_loss_f32(&loss, &dxF, [0, 1, 2, 3, .nan, 4], [0, 1], 2, 3), SNN_E_NONFINITE,
                     mentions: ["NaN"], "NaN in f32 scores")
    }

    func testNaNInBatchNormInputReturnsENonFiniteAndKeepsRunningStatistics() {
        var out = [Double](repeating: 0, count: 4), mean = [0.0, 0], variance = [0.0, 0], invStd = [0.0, 0]
        var runningMean = [0.5, -0.5], runningVar = [2.0, 3]
        let status = snn_batchnorm_forward_f64(&out, &mean, &variance, &invStd, &runningMean, &runningVar,
                                               [1, .nan, 3, 4], [1, 1], [0, 0], 2, 2, 1e-5, 0.9, SNN_MODE_TRAIN)
        assertStatus(status, SNN_E_NONFINITE, mentions: ["NaN"], "NaN in x")
        XCTAssertEqual(runningMean, [0.5, -0.5])
        XCTAssertEqual(runningVar, [2, 3])
    }

    // MARK: the error slot

    func testSuccessfulCallLeavesTheLastErrorInPlace() {
        var out = [Double](repeating: 0, count: 6)
        XCTAssertEqual(snn_affine_forward_f64(&out, x64, w64, b64, 0, 2, 3), SNN_E_SIZE)
        let message = lastError()
        XCTAssertFalse(message.isEmpty)
        XCTAssertEqual(snn_affine_forward_f64(&out, x64, w64, b64, 2, 2, 3), SNN_OK)
        XCTAssertEqual(lastError(), message, "valid until the thread's next failing call")
    }

    func testLastErrorIsPerThread() {
        var out = [Double](repeating: 0, count: 6)
        XCTAssertEqual(snn_affine_forward_f64(&out, x64, w64, b64, 0, 2, 3), SNN_E_SIZE)
        let mine = lastError()
        XCTAssertTrue(mine.contains("n = 0"), mine)

        /// What the other thread saw; written there before `done` is signalled, read here after.
        final class Report: @unchecked Sendable {
            var before = "unset", status: Int32 = 0, message = ""
            let done = DispatchSemaphore(value: 0)
        }
        let report = Report()
        let thread = Thread {
            report.before = String(cString: snn_last_error())
            var o = [Double](repeating: 0, count: 2), m = [Double](repeating: 0, count: 2)
            report.status = snn_dropout_forward_f64(&o, &m, [1, 2], 2, .nan, 1)
            report.message = String(cString: snn_last_error())
            report.done.signal()
        }
        thread.start()
        XCTAssertEqual(report.done.wait(timeout: .now() + 10), .success, "the other thread finished")

        XCTAssertEqual(report.before, "", "a new thread starts with no message")
        XCTAssertEqual(report.status, SNN_E_VALUE)
        XCTAssertTrue(report.message.hasPrefix("p = "), report.message)
        XCTAssertEqual(lastError(), mine, "another thread's failure leaves this thread's message alone")
    }
}
