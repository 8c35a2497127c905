# bench_kernels: weight-read GB/s of pad::kernels::linear vs at::linear / at::matmul vs streaming.
add_executable(bench_kernels bench_kernels.cpp)
target_link_libraries(bench_kernels PRIVATE pad_kernels)
