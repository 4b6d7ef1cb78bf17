/*
 * swiftnn.h — the C ABI of libswiftnn, a fully connected neural-network engine.
 *
 * Conventions (see DESIGN.md):
 *  - Every numeric entry point exists as _f32 (float) and _f64 (double).
 *  - Arguments: outputs first, then inputs, then sizes (int64_t), then hyperparameters.
 *  - Buffers are caller-owned, dense, row-major and C-contiguous. "x (n, d)" means n*d
 *    elements. A pointer may be NULL only where its comment says "nullable".
 *  - Every function returns SNN_OK (0) or a negative SNN_E_* code; on failure
 *    snn_last_error() returns a message naming the argument, valid on the calling thread
 *    until its next failing call. Outputs are unspecified after a failure.
 *  - Labels are int64_t class indices in [0, c).
 *  - Thread-safe and reentrant: no global mutable state besides the error message slot,
 *    which is per thread, and the helper threads and their count (see snn_thread_count,
 *    snn_set_thread_count). Calls on one
 *    network plan or one trainer from several threads run one at a time (each handle has a
 *    lock); calls on different handles run in parallel.
 */
#ifndef SWIFTNN_H
#define SWIFTNN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. */
#define SNN_OK             0
#define SNN_E_NULL        -1  /* a required pointer is NULL */
#define SNN_E_SIZE        -2  /* a size is zero, negative, or too large to address */
#define SNN_E_SHAPE       -3  /* sizes that must agree do not */
#define SNN_E_VALUE       -4  /* a value is out of range: label, probability, mode, eps, ... */
#define SNN_E_NONFINITE   -5  /* NaN or Inf where a finite value is required */
#define SNN_E_ALLOC       -6  /* out of memory */
#define SNN_E_HANDLE      -7  /* NULL, destroyed or foreign handle */

/* Normalization modes. */
#define SNN_MODE_TRAIN 0
#define SNN_MODE_TEST  1

/* The message of this thread's last failing call ("" if none). Never NULL. */
const char *snn_last_error(void);
/* The threads the library computes on: OpenBLAS's thread count when the library first needs
 * it (OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS, else every online CPU), or the count
 * snn_set_thread_count set since. The library splits
 * GEMMs and long elementwise passes itself on that many threads (helpers wait ~0.2 ms for the
 * next job, yielding the core to other threads, then sleep) and sets the OpenBLAS it links to
 * one thread, for the whole process. */
int64_t snn_thread_count(void);
/* Sets the threads the library computes on, from its next job on, to 1 ... snn_max_thread_count()
 * (threadpoolctl and joblib limit it through swiftnn's registered controller). Results depend on
 * the count only through how GEMMs are cut into blocks. SNN_E_VALUE outside that range. */
int32_t snn_set_thread_count(int64_t threads);
/* The most threads snn_set_thread_count accepts: the online CPUs, or the start-up count if larger,
 * at most 64. */
int64_t snn_max_thread_count(void);
/* The library version, e.g. "0.1.0". */
const char *snn_version(void);

/* ---- affine: out (n, m) = x (n, d) · w (d, m) + b (m) ---------------------------------- */
int32_t snn_affine_forward_f32(float *out, const float *x, const float *w, const float *b,
                               int64_t n, int64_t d, int64_t m);
int32_t snn_affine_forward_f64(double *out, const double *x, const double *w, const double *b,
                               int64_t n, int64_t d, int64_t m);
/* dx (n, d) nullable (skipped), dw (d, m), db (m) from dout (n, m). */
int32_t snn_affine_backward_f32(float *dx, float *dw, float *db, const float *dout,
                                const float *x, const float *w, int64_t n, int64_t d, int64_t m);
int32_t snn_affine_backward_f64(double *dx, double *dw, double *db, const double *dout,
                                const double *x, const double *w, int64_t n, int64_t d, int64_t m);

/* ---- ReLU: out (count) = max(x, 0); dx = dout where x > 0 ------------------------------ */
int32_t snn_relu_forward_f32(float *out, const float *x, int64_t count);
int32_t snn_relu_forward_f64(double *out, const double *x, int64_t count);
int32_t snn_relu_backward_f32(float *dx, const float *dout, const float *x, int64_t count);
int32_t snn_relu_backward_f64(double *dx, const double *dout, const double *x, int64_t count);

/* ---- affine + ReLU: out (n, m) = max(x·w + b, 0); pre (n, m) keeps x·w + b ------------- */
int32_t snn_affine_relu_forward_f32(float *out, float *pre, const float *x, const float *w,
                                    const float *b, int64_t n, int64_t d, int64_t m);
int32_t snn_affine_relu_forward_f64(double *out, double *pre, const double *x, const double *w,
                                    const double *b, int64_t n, int64_t d, int64_t m);
/* dx (n, d) nullable (skipped), dw (d, m), db (m) from dout (n, m) and the forward's pre. */
int32_t snn_affine_relu_backward_f32(float *dx, float *dw, float *db, const float *dout,
                                     const float *x, const float *w, const float *pre,
                                     int64_t n, int64_t d, int64_t m);
int32_t snn_affine_relu_backward_f64(double *dx, double *dw, double *db, const double *dout,
                                     const double *x, const double *w, const double *pre,
                                     int64_t n, int64_t d, int64_t m);

/* ---- losses over scores x (n, c) and labels y (n), averaged over n ---------------------
 * *loss receives the loss; dx (n, c) nullable (loss only). A non-finite loss (NaN or Inf
 * in x) returns SNN_E_NONFINITE; a label outside [0, c) returns SNN_E_VALUE. */
int32_t snn_softmax_loss_f32(double *loss, float *dx, const float *x, const int64_t *y,
                             int64_t n, int64_t c);
int32_t snn_softmax_loss_f64(double *loss, double *dx, const double *x, const int64_t *y,
                             int64_t n, int64_t c);
/* Multiclass hinge loss with margin 1. */
int32_t snn_svm_loss_f32(double *loss, float *dx, const float *x, const int64_t *y,
                         int64_t n, int64_t c);
int32_t snn_svm_loss_f64(double *loss, double *dx, const double *x, const int64_t *y,
                         int64_t n, int64_t c);

/* ---- batch normalization over the n rows of x (n, d) -----------------------------------
 * mode SNN_MODE_TRAIN: batch mean, biased var and inv_std = 1/sqrt(var + eps) (each d) are
 *   written out; running_mean/running_var (d) become momentum*running + (1-momentum)*batch.
 * mode SNN_MODE_TEST: running statistics are read only; mean and var are ignored (nullable),
 *   inv_std is nullable and receives 1/sqrt(running_var + eps) when given. A running_var
 *   that is not finite or has running_var + eps <= 0 returns SNN_E_VALUE.
 * eps > 0 and momentum in [0, 1], both finite. */
int32_t snn_batchnorm_forward_f32(float *out, float *mean, float *var, float *inv_std,
                                  float *running_mean, float *running_var,
                                  const float *x, const float *gamma, const float *beta,
                                  int64_t n, int64_t d, double eps, double momentum, int32_t mode);
int32_t snn_batchnorm_forward_f64(double *out, double *mean, double *var, double *inv_std,
                                  double *running_mean, double *running_var,
                                  const double *x, const double *gamma, const double *beta,
                                  int64_t n, int64_t d, double eps, double momentum, int32_t mode);
/* dx (n, d), dgamma (d), dbeta (d) from dout (n, d) and the train-mode forward's mean and
 * inv_std. _alt is the simplified closed form; both give the same result. */
int32_t snn_batchnorm_backward_f32(float *dx, float *dgamma, float *dbeta, const float *dout,
                                   const float *x, const float *gamma, const float *mean,
                                   const float *inv_std, int64_t n, int64_t d);
int32_t snn_batchnorm_backward_f64(double *dx, double *dgamma, double *dbeta, const double *dout,
                                   const double *x, const double *gamma, const double *mean,
                                   const double *inv_std, int64_t n, int64_t d);
int32_t snn_batchnorm_backward_alt_f32(float *dx, float *dgamma, float *dbeta, const float *dout,
                                       const float *x, const float *gamma, const float *mean,
                                       const float *inv_std, int64_t n, int64_t d);
int32_t snn_batchnorm_backward_alt_f64(double *dx, double *dgamma, double *dbeta, const double *dout,
                                       const double *x, const double *gamma, const double *mean,
                                       const double *inv_std, int64_t n, int64_t d);

/* ---- layer normalization: each row of x (n, d) with its own statistics ------------------
 * mean (n) and inv_std (n) are written for the backward pass; eps > 0 and finite. */
int32_t snn_layernorm_forward_f32(float *out, float *mean, float *inv_std, const float *x,
                                  const float *gamma, const float *beta, int64_t n, int64_t d,
                                  double eps);
int32_t snn_layernorm_forward_f64(double *out, double *mean, double *inv_std, const double *x,
                                  const double *gamma, const double *beta, int64_t n, int64_t d,
                                  double eps);
int32_t snn_layernorm_backward_f32(float *dx, float *dgamma, float *dbeta, const float *dout,
                                   const float *x, const float *gamma, const float *mean,
                                   const float *inv_std, int64_t n, int64_t d);
int32_t snn_layernorm_backward_f64(double *dx, double *dgamma, double *dbeta, const double *dout,
                                   const double *x, const double *gamma, const double *mean,
                                   const double *inv_std, int64_t n, int64_t d);

/* ---- inverted dropout, p = probability of keeping a unit, 0 < p <= 1 -------------------
 * mask[i] = 1/p if u_i < p else 0, where u_i takes the high bits of the i-th output of
 * SplitMix64 started at seed (24 bits for f32, 53 for f64); out = x * mask. */
int32_t snn_dropout_forward_f32(float *out, float *mask, const float *x, int64_t count,
                                double p, uint64_t seed);
int32_t snn_dropout_forward_f64(double *out, double *mask, const double *x, int64_t count,
                                double p, uint64_t seed);
/* out = x * mask with a caller-given mask. */
int32_t snn_dropout_forward_masked_f32(float *out, const float *x, const float *mask, int64_t count);
int32_t snn_dropout_forward_masked_f64(double *out, const double *x, const double *mask, int64_t count);
/* dx = dout * mask. */
int32_t snn_dropout_backward_f32(float *dx, const float *dout, const float *mask, int64_t count);
int32_t snn_dropout_backward_f64(double *dx, const double *dout, const double *mask, int64_t count);

/* ---- update rules: in-place steps over one parameter buffer ----------------------------
 * SGD:       w -= lr*dw
 * momentum:  v = momentum*v - lr*dw; w += v                         (s1 = v)
 * Nesterov:  v' = momentum*v - lr*dw; w += -momentum*v + (1+momentum)*v'; v = v'   (s1 = v)
 * RMSProp:   c = decay*c + (1-decay)*dw^2; w -= lr*dw/(sqrt(c)+eps)  (s1 = c)
 * Adam:      m = b1*m + (1-b1)*dw; v = b2*v + (1-b2)*dw^2;
 *            w -= lr*(m/(1-b1^t)) / (sqrt(v/(1-b2^t))+eps)           (s1 = m, s2 = v; t >= 1 is
 *            the step count after this step's increment)
 * AdaGrad:   c += dw^2; w -= lr*dw/(sqrt(c)+eps)                     (s1 = c)
 * State buffers a rule does not use are nullable. Hyperparameters must be finite and >= 0;
 * momentum, decay_rate, beta1, beta2 in [0, 1] (beta1, beta2 < 1 for Adam); learning_rate
 * finite in the buffers' precision; epsilon > 0 in that precision for RMSProp, Adam and
 * AdaGrad (0 would divide 0 by 0 on a zero gradient). Else SNN_E_VALUE. */
#define SNN_RULE_SGD       0
#define SNN_RULE_MOMENTUM  1
#define SNN_RULE_NESTEROV  2
#define SNN_RULE_RMSPROP   3
#define SNN_RULE_ADAM      4
#define SNN_RULE_ADAGRAD   5

typedef struct snn_update_config {
    double learning_rate;
    double momentum;
    double decay_rate;
    double beta1;
    double beta2;
    double epsilon;
    int64_t t;
} snn_update_config;

int32_t snn_update_f32(int32_t rule, float *w, float *s1, float *s2, const float *dw,
                       int64_t count, const snn_update_config *config);
int32_t snn_update_f64(int32_t rule, double *w, double *s1, double *s2, const double *dw,
                       int64_t count, const snn_update_config *config);
/* Every parameter in one call: tables of `count` buffer pointers, sizes[i] elements each.
 * s1/s2 are nullable when the rule keeps fewer state buffers. */
int32_t snn_update_many_f32(int32_t rule, int64_t count, float *const *w, float *const *s1,
                            float *const *s2, const float *const *dw, const int64_t *sizes,
                            const snn_update_config *config);
int32_t snn_update_many_f64(int32_t rule, int64_t count, double *const *w, double *const *s1,
                            double *const *s2, const double *const *dw, const int64_t *sizes,
                            const snn_update_config *config);

/* ---- whole-network plans ---------------------------------------------------------------
 * {affine - [batchnorm|layernorm] - relu|leaky relu - [dropout]} x (L-1) - affine - softmax,
 * with dims = [input, hidden..., classes] (num_dims = L + 1). A plan owns its workspace,
 * sized for the largest batch seen. Parameters are passed on every call as a table in the
 * order W1, b1, ..., WL, bL, then gamma1, beta1, ..., gamma(L-1), beta(L-1) when normalized;
 * Wl is (dims[l-1], dims[l]). keep is the dropout keep probability (1 = no dropout).
 * Each dims[i] is in [1, 2^31 - 1] and all parameters together must be addressable (fewer
 * than 2^58 elements), else SNN_E_SIZE. */
#define SNN_NORM_NONE  0
#define SNN_NORM_BATCH 1
#define SNN_NORM_LAYER 2
#define SNN_ACT_RELU        0
#define SNN_ACT_LEAKY_RELU  1

typedef struct snn_net snn_net;

int32_t snn_net_create_f32(snn_net **net, const int64_t *dims, int64_t num_dims,
                           int32_t normalization, double keep, int32_t activation, double leak);
int32_t snn_net_create_f64(snn_net **net, const int64_t *dims, int64_t num_dims,
                           int32_t normalization, double keep, int32_t activation, double leak);
/* Safe on NULL; a destroyed or foreign handle gives SNN_E_HANDLE. */
int32_t snn_net_destroy(snn_net *net);
/* With labels y (n): train mode — batch statistics (running ones updated in place in
 * `running` = mean1, var1, mean2, var2, ...; required for batchnorm, else nullable), dropout
 * with masks drawn from seed (layer l from SplitMix64(seed)'s l-th output), *loss = mean
 * softmax loss + 0.5*reg*sum(W^2), every gradient written to `grads` (same table layout).
 * Without y (NULL): test mode — scores (n, classes) written, grads nullable. eps and momentum
 * are per hidden layer (nullable: 1e-5 and 0.9). x is (n, d) with d = dims[0]. A loss that is
 * not finite (NaN/Inf in the scores, or an L2 term past double) returns SNN_E_NONFINITE; test
 * mode checks the running variances as snn_batchnorm_forward does. On failure the running
 * statistics are left as they were. */
int32_t snn_net_loss_f32(snn_net *net, double *loss, float *scores, float *const *grads,
                         float *const *running, const float *const *params, const float *x,
                         const int64_t *y, int64_t n, int64_t d, double reg, const double *eps,
                         const double *momentum, uint64_t seed);
int32_t snn_net_loss_f64(snn_net *net, double *loss, double *scores, double *const *grads,
                         double *const *running, const double *const *params, const double *x,
                         const int64_t *y, int64_t n, int64_t d, double reg, const double *eps,
                         const double *momentum, uint64_t seed);
/* The output's loss: softmax cross-entropy against labels (the default), or the squared error
 * 0.5 * sum_j (score_ij - target_ij)^2 per row of an identity output against real targets
 * (n, dims[L]): regression with one or several outputs. */
#define SNN_LOSS_SOFTMAX 0
#define SNN_LOSS_SQUARED 1
int32_t snn_net_set_loss(snn_net *net, int32_t loss);
/* snn_net_loss with labels y (softmax) or targets (n, dims[L]) (squared error), at most one of
 * them non-NULL (both NULL: test mode), and per-row weights (n) (nullable; finite, >= 0, with a
 * sum > 0): *loss is then the weighted mean sum_i w_i loss_i / sum_i w_i + 0.5*reg*sum(W^2),
 * so that an integer weight counts as that many copies of the row. */
int32_t snn_net_loss_weighted_f32(snn_net *net, double *loss, float *scores, float *const *grads,
                                  float *const *running, const float *const *params, const float *x,
                                  const int64_t *y, const float *targets, const float *weights,
                                  int64_t n, int64_t d, double reg, const double *eps,
                                  const double *momentum, uint64_t seed);
int32_t snn_net_loss_weighted_f64(snn_net *net, double *loss, double *scores, double *const *grads,
                                  double *const *running, const double *const *params, const double *x,
                                  const int64_t *y, const double *targets, const double *weights,
                                  int64_t n, int64_t d, double reg, const double *eps,
                                  const double *momentum, uint64_t seed);

/* Test mode for inference in one call: the softmax probabilities (n, classes) of x (n, d)
 * and/or each row's label, the index of its highest score (the first on ties); either output
 * may be NULL, not both. running, params and eps as for snn_net_loss. */
int32_t snn_net_predict_f32(snn_net *net, float *probabilities, int64_t *labels, float *const *running,
                            const float *const *params, const float *x, int64_t n, int64_t d,
                            const double *eps);
int32_t snn_net_predict_f64(snn_net *net, double *probabilities, int64_t *labels, double *const *running,
                            const double *const *params, const double *x, int64_t n, int64_t d,
                            const double *eps);

/* ---- native trainer ---------------------------------------------------------------------
 * The whole training loop in the library: minibatch sampling (with replacement), the network
 * plan, one update over all parameters, learning-rate schedule, accuracy checks, best-parameter
 * snapshot and early stopping. The caller owns params (all parameters, flat, in the plan's
 * table order), running (mean1, var1, mean2, var2, ... flat; required for batchnorm), state
 * (nullable: the update rule's two state buffers, 2 x the parameter count, e.g. Adam's m then
 * v, so they can be saved and restored) and the data; they must stay valid until the trainer
 * is destroyed or given new data. Randomness, with
 * s = seed: minibatch row i of step k is floor(u * n_train / 2^64) for
 * u = SplitMix64(SplitMix64(s)[0])[k*batch_size + i]; dropout uses SplitMix64(SplitMix64(s)[1])[k]
 * as the plan's seed for step k; the training-accuracy sample of check e takes rows from
 * SplitMix64(SplitMix64(s)[2])[e*train_samples + i] the same way (all rows when
 * train_samples >= n_train). */
#define SNN_SCHEDULE_STEP   0  /* learning rate *= decay at every epoch end */
#define SNN_SCHEDULE_COSINE 1  /* cosine from the base rate to 0 over total_iterations */

typedef struct snn_trainer snn_trainer;

int32_t snn_trainer_create_f32(snn_trainer **trainer, const int64_t *dims, int64_t num_dims,
                               int32_t normalization, double keep, int32_t activation, double leak,
                               float *params, float *running, float *state);
int32_t snn_trainer_create_f64(snn_trainer **trainer, const int64_t *dims, int64_t num_dims,
                               int32_t normalization, double keep, int32_t activation, double leak,
                               double *params, double *running, double *state);
/* Safe on NULL; a destroyed or foreign handle gives SNN_E_HANDLE. */
int32_t snn_trainer_destroy(snn_trainer *trainer);
/* Resets the optimizer state. The trainer counts Adam's t itself (config.t must be >= 1 for
 * Adam and is otherwise ignored). */
int32_t snn_trainer_set_optimizer(snn_trainer *trainer, int32_t rule, const snn_update_config *config,
                                  double reg);
/* Linear warm-up over `warmup` steps first (rate * (k+1)/warmup); patience = epochs without a
 * better validation accuracy before stopping (0 = never). */
int32_t snn_trainer_set_schedule(snn_trainer *trainer, int32_t kind, double decay, int64_t warmup,
                                 int64_t total_iterations, int64_t patience);
/* x_train (n_train, d), x_val (n_val, d); labels checked here. Resets iteration and epoch. */
int32_t snn_trainer_set_data_f32(snn_trainer *trainer, const float *x_train, const int64_t *y_train,
                                 int64_t n_train, const float *x_val, const int64_t *y_val,
                                 int64_t n_val, int64_t d, int64_t batch_size,
                                 int64_t train_samples, uint64_t seed);
int32_t snn_trainer_set_data_f64(snn_trainer *trainer, const double *x_train, const int64_t *y_train,
                                 int64_t n_train, const double *x_val, const int64_t *y_val,
                                 int64_t n_val, int64_t d, int64_t batch_size,
                                 int64_t train_samples, uint64_t seed);
/* Runs up to max_steps steps, returning early when an epoch ends (*epoch_ended = 1) or
 * training was stopped; losses (max_steps) receives each step's loss, *steps_done the count.
 * epochs are max(n_train / batch_size, 1) steps. A non-finite loss returns SNN_E_NONFINITE
 * before that step's update. On any error *steps_done still counts the steps that ran before
 * the failing one (their losses are in losses). */
int32_t snn_trainer_run(snn_trainer *trainer, int64_t max_steps, double *losses, int64_t *steps_done,
                        int32_t *epoch_ended);
/* Accuracy on the training sample and on all validation rows; snapshots the parameters when
 * validation accuracy improves; *stop = 1 once patience is exhausted. Outputs nullable. */
int32_t snn_trainer_evaluate(snn_trainer *trainer, double *train_acc, double *val_acc,
                             int32_t *improved, int32_t *stop);
/* Continues a run after set_data: the next step is `iteration`, `epoch` epochs are done, and
 * best_val_acc is the best validation accuracy so far (the current params become the best
 * snapshot). With the same data, seed and state the run goes on as an uninterrupted one, the
 * step decay included; the early-stopping count of checks without improvement restarts at 0
 * (swiftnn.Trainer keeps that count itself). */
int32_t snn_trainer_set_progress(snn_trainer *trainer, int64_t iteration, int64_t epoch,
                                 double best_val_acc);
/* Copies the best snapshot into params and running. */
int32_t snn_trainer_restore_best(snn_trainer *trainer);
/* The next step's index and learning rate, and the epochs completed. Outputs nullable. */
int32_t snn_trainer_state(snn_trainer *trainer, int64_t *iteration, int64_t *epoch,
                          double *learning_rate);
/* The output's loss (SNN_LOSS_*), before set_data: a squared-error trainer takes targets, and
 * its checks report R^2 (the uniform average over outputs, as scikit-learn's r2_score) where a
 * softmax one reports accuracy. */
int32_t snn_trainer_set_loss(snn_trainer *trainer, int32_t loss);
/* How minibatches are drawn: SNN_SAMPLE_REPLACEMENT (the default; see above), or an epoch that
 * visits every training row once in ceil(n_train / batch_size) steps, the last one shorter:
 * SNN_SAMPLE_SHUFFLED in a new order each epoch (epoch e's permutation: Fisher-Yates, swap k of
 * position i = n_train-1-k with floor(u * (i+1) / 2^64), u = SplitMix64(SplitMix64(s)[0])[e*n_train + k]),
 * SNN_SAMPLE_ORDERED in the rows' order. reg_per_weight = 1 divides reg by each minibatch's
 * weight sum (its row count without weights) at every step: scikit-learn's alpha convention. */
#define SNN_SAMPLE_REPLACEMENT 0
#define SNN_SAMPLE_SHUFFLED    1
#define SNN_SAMPLE_ORDERED     2
int32_t snn_trainer_set_sampling(snn_trainer *trainer, int32_t order, int32_t reg_per_weight);
/* Updates made before the current data were bound (training continued on new data, as
 * scikit-learn's partial_fit): Adam's step count t continues from there. */
int32_t snn_trainer_set_updates_before(snn_trainer *trainer, int64_t updates);
/* snn_trainer_set_data with labels (softmax: y_train, y_val) or targets (squared error: t_train
 * (n_train, outputs), t_val (n_val, outputs)), the other pair NULL, and per-row weights w_train
 * (n_train), w_val (n_val) (nullable; finite, >= 0): steps minimize the weighted mean loss and
 * the checks report the weighted accuracy or R^2. n_val may be 0 (no validation rows: x_val,
 * y_val, t_val and w_val are then nullable, and snn_trainer_evaluate reports 0 for them). */
int32_t snn_trainer_set_data_weighted_f32(snn_trainer *trainer, const float *x_train,
                                          const int64_t *y_train, const float *t_train,
                                          const float *w_train, int64_t n_train, const float *x_val,
                                          const int64_t *y_val, const float *t_val, const float *w_val,
                                          int64_t n_val, int64_t d, int64_t batch_size,
                                          int64_t train_samples, uint64_t seed);
int32_t snn_trainer_set_data_weighted_f64(snn_trainer *trainer, const double *x_train,
                                          const int64_t *y_train, const double *t_train,
                                          const double *w_train, int64_t n_train, const double *x_val,
                                          const int64_t *y_val, const double *t_val, const double *w_val,
                                          int64_t n_val, int64_t d, int64_t batch_size,
                                          int64_t train_samples, uint64_t seed);

#ifdef __cplusplus
}
#endif

#endif /* SWIFTNN_H */
