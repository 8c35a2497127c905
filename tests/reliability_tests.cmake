# Reliability: training killed with SIGKILL resumes bit-identically; writes past a file size limit.
pad_test(test_reliability COST 20 test_crash.cpp)
target_link_libraries(test_reliability PRIVATE pad_train)
add_dependencies(test_reliability pad)
