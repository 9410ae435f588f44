// The only file that includes pybind11: it converts arrays to views, releases the GIL
// around the core's work, and turns C++ exceptions into Python ones. No numerics here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "positive_mlp/float_mode.hpp"
#include "positive_mlp/network.hpp"
#include "positive_mlp/trainer.hpp"

namespace py = pybind11;
using namespace pmlp;

namespace {

template <class T>
using InArray = py::array_t<T, py::array::c_style | py::array::forcecast>;
template <class T>
using InOutArray = py::array_t<T, py::array::c_style>;

// SciPy exports its BLAS as function pointers in scipy.linalg.cython_blas.
template <class Routine>
Routine scipy_routine(const py::dict& capi, const char* name) {
    return reinterpret_cast<Routine>(py::capsule(capi[name]).get_pointer<void>());
}

Blas load_scipy_blas() {
    py::dict capi = py::module_::import("scipy.linalg.cython_blas").attr("__pyx_capi__");
    Blas blas;
    blas.dgemm = scipy_routine<FortranGemm<double>>(capi, "dgemm");
    blas.sgemm = scipy_routine<FortranGemm<float>>(capi, "sgemm");
    blas.dgemv = scipy_routine<FortranGemv<double>>(capi, "dgemv");
    blas.sgemv = scipy_routine<FortranGemv<float>>(capi, "sgemv");
    blas.dger = scipy_routine<FortranGer<double>>(capi, "dger");
    blas.sger = scipy_routine<FortranGer<float>>(capi, "sger");
    return blas;
}

const Blas& scipy_blas() {
    static const Blas blas = load_scipy_blas();
    return blas;
}

template <class T>
ConstMatrix<T> matrix_view(const InArray<T>& a, const char* name) {
    if (a.ndim() != 2)
        throw std::invalid_argument(std::string(name) + " must be 2-D, got " +
                                    std::to_string(a.ndim()) + "-D");
    return ConstMatrix<T>{a.data(), a.shape(0), a.shape(1)};
}

template <class A>
const A& one_dimensional(const A& a, const char* name) {
    if (a.ndim() != 1) throw std::invalid_argument(std::string(name) + " must be 1-D");
    return a;
}

// X as the core reads it: an array (converted to C-contiguous T), or a scipy.sparse CSR
// matrix or array (values converted to T, column indices kept 32- or 64-bit, row
// offsets 64-bit). Owns the converted arrays for as long as the view is used.
template <class T>
class InputArrays {
public:
    explicit InputArrays(const py::object& X) {
        if (!py::hasattr(X, "indptr")) {
            dense_ = X.cast<InArray<T>>();
            view_ = Inputs<T>::from_dense(matrix_view(*dense_, "X"));
            return;
        }
        if (X.attr("format").cast<std::string>() != "csr")
            throw std::invalid_argument("sparse X must be in CSR format");
        const auto shape = X.attr("shape").cast<std::pair<std::int64_t, std::int64_t>>();
        values_ = one_dimensional(X.attr("data").cast<InArray<T>>(), "X.data");
        indptr_ = one_dimensional(X.attr("indptr").cast<InArray<std::int64_t>>(), "X.indptr");
        const py::array indices = X.attr("indices");
        CsrMatrix<T> csr;
        if (indices.dtype().kind() == 'i' && indices.dtype().itemsize() == 4) {
            indices32_ = one_dimensional(indices.cast<InArray<std::int32_t>>(), "X.indices");
            csr.indices32 = indices32_->data();
        } else {
            indices64_ = one_dimensional(indices.cast<InArray<std::int64_t>>(), "X.indices");
            csr.indices64 = indices64_->data();
        }
        if (indptr_->shape(0) != shape.first + 1)
            throw std::invalid_argument("X.indptr must have one entry per row, plus one");
        if (indices.shape(0) != values_->shape(0))
            throw std::invalid_argument("X.indices and X.data must have the same length");
        csr.values = values_->data();
        csr.indptr = indptr_->data();
        csr.rows = shape.first;
        csr.cols = shape.second;
        csr.n_entries = values_->shape(0);
        view_ = Inputs<T>::from_csr(csr);
    }

    const Inputs<T>& view() const { return view_; }
    std::int64_t rows() const { return view_.rows; }

private:
    std::optional<InArray<T>> dense_, values_;
    std::optional<InArray<std::int32_t>> indices32_;
    std::optional<InArray<std::int64_t>> indices64_, indptr_;
    Inputs<T> view_;
};

template <class T>
const T* optional_weights(const std::optional<InArray<T>>& w, std::int64_t n_rows) {
    if (!w) return nullptr;
    if (w->ndim() != 1 || w->shape(0) != n_rows)
        throw std::invalid_argument("sample_weight must have shape (" +
                                    std::to_string(n_rows) + ",)");
    return w->data();
}

template <class T>
const T* vector_view(const InArray<T>& a, std::int64_t size, const char* name) {
    if (a.ndim() != 1 || a.shape(0) != size)
        throw std::invalid_argument(std::string(name) + " must have shape (" +
                                    std::to_string(size) + ",)");
    return a.data();
}

template <class T>
T* mutable_vector(InOutArray<T>& a, std::int64_t size, const char* name) {
    if (a.ndim() != 1 || a.shape(0) != size)
        throw std::invalid_argument(std::string(name) + " must have shape (" +
                                    std::to_string(size) + ",)");
    return a.mutable_data();
}

// Runs on the core's thread with the GIL released: takes the GIL only to ask Python
// whether a signal (Ctrl-C) arrived, leaving the KeyboardInterrupt set if so.
InterruptCheck python_interrupt_check() {
    return InterruptCheck([] {
        py::gil_scoped_acquire gil;
        return PyErr_CheckSignals() != 0;
    });
}

template <class T>
T* optional_matrix(std::optional<InOutArray<T>>& a, std::int64_t rows, std::int64_t cols,
                   const char* name) {
    if (!a) return nullptr;
    if (a->ndim() != 2 || a->shape(0) != rows || a->shape(1) != cols)
        throw std::invalid_argument(std::string(name) + " must have shape (" +
                                    std::to_string(rows) + ", " + std::to_string(cols) + ")");
    return a->mutable_data();
}

// y as the network reads it: one row per row of X and one column per target, which
// every output of the target's group (its quantile levels) reads: never repeated.
template <class T>
ConstMatrix<T> targets_view(const Network<T>& net, const InArray<T>& Y, std::int64_t rows) {
    const ConstMatrix<T> y = matrix_view(Y, "y");
    if (y.rows != rows)
        throw std::invalid_argument("X has " + std::to_string(rows) + " rows but y has " +
                                    std::to_string(y.rows));
    if (y.cols != net.n_targets())
        throw std::invalid_argument("y must have " + std::to_string(net.n_targets()) +
                                    " column(s), one per target (the network's " +
                                    std::to_string(net.layout().n_outputs()) +
                                    " output(s), in groups of " +
                                    std::to_string(net.spec().outputs_per_group) +
                                    ", read one each), got " + std::to_string(y.cols));
    return y;
}

template <class T>
Network<T> make_network(const NetworkSpec& spec, const InArray<T>& threshold,
                        const std::optional<InArray<std::int8_t>>& signs) {
    if (threshold.ndim() != 1) throw std::invalid_argument("threshold must be 1-D");
    if (signs && signs->ndim() != 1) throw std::invalid_argument("signs must be 1-D");
    return Network<T>(spec, scipy_blas(), threshold.data(), threshold.shape(0),
                      signs ? signs->data() : nullptr, signs ? signs->shape(0) : 0);
}

template <class T>
py::array_t<T> predict(const Network<T>& net, const InArray<T>& params, const py::object& X,
                       int n_threads) {
    const InputArrays<T> x(X);
    const T* p = vector_view(params, net.layout().n_params(), "params");
    py::array_t<T> out({x.rows(), net.layout().n_outputs()});
    T* out_data = out.mutable_data();
    py::gil_scoped_release release;
    InterruptCheck interrupt = python_interrupt_check();
    net.predict(p, x.view(), out_data, interrupt, n_threads);
    return out;
}

template <class T>
double loss_and_gradient(const Network<T>& net, const InArray<T>& params, const py::object& X,
                         const InArray<T>& Y, const std::optional<InArray<T>>& sample_weight,
                         std::optional<InOutArray<T>> multipliers, double alpha,
                         InOutArray<T>& grad, int n_threads) {
    const std::int64_t n_params = net.layout().n_params();
    const InputArrays<T> x(X);
    Dataset<T> data{x.view(), targets_view(net, Y, x.rows()),
                    optional_weights(sample_weight, x.rows())};
    const T* m =
        optional_matrix(multipliers, x.rows(), net.layout().n_outputs(), "multipliers");
    const T* p = vector_view(params, n_params, "params");
    T* g = mutable_vector(grad, n_params, "grad");
    py::gil_scoped_release release;
    InterruptCheck interrupt = python_interrupt_check();
    return net.loss_and_gradient(p, data, m, alpha, g, interrupt, n_threads);
}

template <class T>
double loss(const Network<T>& net, const InArray<T>& params, const py::object& X,
            const InArray<T>& Y, const std::optional<InArray<T>>& sample_weight,
            std::optional<InOutArray<T>> multipliers, double alpha, int n_threads) {
    const InputArrays<T> x(X);
    Dataset<T> data{x.view(), targets_view(net, Y, x.rows()),
                    optional_weights(sample_weight, x.rows())};
    const T* m =
        optional_matrix(multipliers, x.rows(), net.layout().n_outputs(), "multipliers");
    const T* p = vector_view(params, net.layout().n_params(), "params");
    py::gil_scoped_release release;
    InterruptCheck interrupt = python_interrupt_check();
    return net.loss(p, data, m, alpha, interrupt, n_threads);
}

template <class T>
std::int64_t update_multipliers(const Network<T>& net, const InArray<T>& params,
                                const py::object& X, std::optional<InOutArray<T>> multipliers,
                                int n_threads) {
    const InputArrays<T> x(X);
    T* m = optional_matrix(multipliers, x.rows(), net.layout().n_outputs(), "multipliers");
    if (!m) throw std::invalid_argument("multipliers are required");
    const T* p = vector_view(params, net.layout().n_params(), "params");
    py::gil_scoped_release release;
    InterruptCheck interrupt = python_interrupt_check();
    return net.update_multipliers(p, x.view(), m, interrupt, n_threads);
}

template <class T>
EpochResult run_epoch(EpochTrainer<T>& trainer, InOutArray<T>& params,
                      InOutArray<T>& first_moment, InOutArray<T>& second_moment,
                      std::int64_t step, const py::object& X, const InArray<T>& Y,
                      const std::optional<InArray<T>>& sample_weight,
                      std::optional<InOutArray<T>> multipliers, const EpochOptions& options) {
    const std::int64_t n_params = trainer.network().layout().n_params();
    const InputArrays<T> x(X);
    Dataset<T> data{x.view(), targets_view(trainer.network(), Y, x.rows()),
                    optional_weights(sample_weight, x.rows())};
    T* m = optional_matrix(multipliers, x.rows(), trainer.network().layout().n_outputs(),
                           "multipliers");
    T* p = mutable_vector(params, n_params, "params");
    OptimizerState<T> state{mutable_vector(first_moment, n_params, "first_moment"), nullptr,
                            step};
    if (options.optimizer.solver == Solver::adam)
        state.second = mutable_vector(second_moment, n_params, "second_moment");
    py::gil_scoped_release release;
    InterruptCheck interrupt = python_interrupt_check();
    return trainer.run_epoch(p, n_params, state, data, m, options, interrupt);
}

template <class T>
py::array_t<T> effective_params(const Network<T>& net, const InArray<T>& params) {
    const std::int64_t n = net.layout().n_params();
    const T* p = vector_view(params, n, "params");
    py::array_t<T> out(n);
    net.effective_params(p, out.mutable_data());
    return out;
}

template <class T>
void bind_precision(py::module_& m) {
    py::class_<Network<T>>(m, "Network", "A dense network with a bounded output transform.")
        .def(py::init(&make_network<T>), py::arg("spec"), py::arg("threshold"),
             py::arg("signs") = py::none())
        .def("predict", &predict<T>, py::arg("params"), py::arg("X"), py::arg("n_threads") = 1)
        .def("effective_params", &effective_params<T>, py::arg("params"))
        .def("predict_threads", &Network<T>::predict_threads, py::arg("n_rows"),
             py::arg("sparse"), py::arg("n_threads"),
             "Threads predict takes for n_rows rows (sparse or dense) when offered n_threads.")
        .def_property_readonly("n_outputs",
                               [](const Network<T>& net) { return net.layout().n_outputs(); })
        .def_property_readonly("n_targets", &Network<T>::n_targets)
        .def("loss", &loss<T>, py::arg("params"), py::arg("X"), py::arg("y"),
             py::arg("sample_weight"), py::arg("multipliers").noconvert(), py::arg("alpha"),
             py::arg("n_threads") = 1)
        .def("loss_and_gradient", &loss_and_gradient<T>, py::arg("params"), py::arg("X"),
             py::arg("y"), py::arg("sample_weight"), py::arg("multipliers").noconvert(),
             py::arg("alpha"), py::arg("grad").noconvert(), py::arg("n_threads") = 1)
        .def("update_multipliers", &update_multipliers<T>, py::arg("params"), py::arg("X"),
             py::arg("multipliers").noconvert(), py::arg("n_threads") = 1);

    py::class_<EpochTrainer<T>>(m, "EpochTrainer", "Buffers and loop for one epoch.")
        .def(py::init<const Network<T>&, std::int64_t, std::int64_t, int>(),
             py::arg("network"), py::arg("n_samples"), py::arg("batch_size"),
             py::arg("n_threads") = 1)
        .def("run_epoch", &run_epoch<T>, py::arg("params").noconvert(),
             py::arg("first_moment").noconvert(), py::arg("second_moment").noconvert(),
             py::arg("step"), py::arg("X"), py::arg("y"), py::arg("sample_weight"),
             py::arg("multipliers").noconvert(), py::arg("options"));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "C++ core of positive-mlp: forward, backward, losses and the epoch loop.";
    m.def("take_refused_thread_starts", &take_refused_thread_starts,
          "The most threads refused to one pool since the last call (resets the count).");
    m.def("_parked_pools", &parked_pools,
          "(pools, threads) parked now: the pools of threads kept between computations.");
    m.def(
        "_set_flush_subnormals",
        [](bool flush) { return float_mode::enabled().exchange(flush); }, py::arg("flush"),
        "Whether the core flushes subnormal numbers to zero in its loops (the default); "
        "returns the previous setting. For benchmarks and tests against exact IEEE "
        "arithmetic.");

    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const Interrupted&) {
            if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
        }
    });

    py::enum_<Activation>(m, "Activation")
        .value("identity", Activation::identity)
        .value("logistic", Activation::logistic)
        .value("tanh", Activation::tanh)
        .value("relu", Activation::relu);
    py::enum_<OutputTransform>(m, "OutputTransform")
        .value("identity", OutputTransform::identity)
        .value("relu", OutputTransform::relu)
        .value("softplus", OutputTransform::softplus)
        .value("exp", OutputTransform::exp);
    py::enum_<Loss>(m, "Loss")
        .value("squared_error", Loss::squared_error)
        .value("poisson", Loss::poisson)
        .value("gamma", Loss::gamma)
        .value("tweedie", Loss::tweedie)
        .value("quantile", Loss::quantile);
    py::enum_<Solver>(m, "Solver").value("sgd", Solver::sgd).value("adam", Solver::adam);
    py::enum_<WeightMethod>(m, "WeightMethod")
        .value("none", WeightMethod::none)
        .value("projection", WeightMethod::projection)
        .value("square", WeightMethod::square)
        .value("exp", WeightMethod::exp);
    py::enum_<OutputConstraint>(m, "OutputConstraint")
        .value("none", OutputConstraint::none)
        .value("penalty", OutputConstraint::penalty)
        .value("lagrangian", OutputConstraint::lagrangian);

    py::class_<NetworkSpec>(m, "NetworkSpec")
        .def(py::init([](std::vector<std::int64_t> sizes, Activation a, OutputTransform g,
                         Loss loss, double power, std::vector<double> levels,
                         std::int64_t outputs_per_group, WeightMethod method,
                         OutputConstraint constraint, double strength,
                         std::vector<double> margin, std::int64_t members) {
                 NetworkSpec spec;
                 spec.layer_sizes = std::move(sizes);
                 spec.members = members;
                 spec.activation = a;
                 spec.output_transform = g;
                 spec.loss = loss;
                 spec.tweedie_power = power;
                 spec.quantile_levels = std::move(levels);
                 spec.outputs_per_group = outputs_per_group;
                 spec.weight_method = method;
                 spec.output_constraint = constraint;
                 spec.constraint_strength = strength;
                 spec.constraint_margin = std::move(margin);
                 return spec;
             }),
             py::arg("layer_sizes"), py::arg("activation"), py::arg("output_transform"),
             py::arg("loss"), py::arg("tweedie_power") = 1.5,
             py::arg("quantile_levels") = std::vector<double>{},
             py::arg("outputs_per_group") = 1, py::arg("weight_method") = WeightMethod::none,
             py::arg("output_constraint") = OutputConstraint::none,
             py::arg("constraint_strength") = 1.0,
             py::arg("constraint_margin") = std::vector<double>{}, py::arg("members") = 1);

    py::class_<OptimizerOptions>(m, "OptimizerOptions")
        .def(py::init<>())
        .def_readwrite("solver", &OptimizerOptions::solver)
        .def_readwrite("learning_rate", &OptimizerOptions::learning_rate)
        .def_readwrite("momentum", &OptimizerOptions::momentum)
        .def_readwrite("nesterov", &OptimizerOptions::nesterov)
        .def_readwrite("beta_1", &OptimizerOptions::beta_1)
        .def_readwrite("beta_2", &OptimizerOptions::beta_2)
        .def_readwrite("epsilon", &OptimizerOptions::epsilon);

    py::class_<EpochOptions>(m, "EpochOptions")
        .def(py::init<>())
        .def_readwrite("batch_size", &EpochOptions::batch_size)
        .def_readwrite("shuffle", &EpochOptions::shuffle)
        .def_readwrite("seed", &EpochOptions::seed)
        .def_readwrite("alpha", &EpochOptions::alpha)
        .def_readwrite("optimizer", &EpochOptions::optimizer);

    py::class_<EpochResult>(m, "EpochResult")
        .def_readonly("loss", &EpochResult::loss)
        .def_readonly("constraint", &EpochResult::constraint)
        .def_readonly("step", &EpochResult::step)
        .def_readonly("below_threshold", &EpochResult::below_threshold);

    py::module_ f64 = m.def_submodule("f64", "float64 networks");
    py::module_ f32 = m.def_submodule("f32", "float32 networks");
    bind_precision<double>(f64);
    bind_precision<float>(f32);
}
