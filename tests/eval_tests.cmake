# eval layer tests: PrefWorld determinism and properties, judges on hand-written texts, statistics
# and reports. No models; runs in seconds.
pad_test(test_eval test_eval_world.cpp test_eval_judges.cpp test_eval_report.cpp)
target_link_libraries(test_eval PRIVATE pad_eval)
