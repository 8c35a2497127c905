# eval layer tests: PrefWorld determinism and properties, judges on hand-written texts, statistics
# and reports. No models; runs in seconds.
pad_test(test_eval test_eval_world.cpp test_prefworld_contrastive.cpp test_eval_judges.cpp test_eval_report.cpp
         test_eval_personalization.cpp)
target_link_libraries(test_eval PRIVATE pad_eval)

# `pad eval` end to end on the tiny fixture model (PrefWorld with 4 prompts, 8 new tokens): one
# judged line per (prompt, method, preference), table, summary, charts, bad input. Under a minute.
pad_test(test_eval_cli test_eval_cli.cpp)
target_link_libraries(test_eval_cli PRIVATE pad_model)
add_dependencies(test_eval_cli pad)

# The pipeline end to end in miniature (issue 6): a couple of minutes on 2 cores.
pad_test(test_e2e_pipeline test_e2e_pipeline.cpp)
target_link_libraries(test_e2e_pipeline PRIVATE pad_util)
add_dependencies(test_e2e_pipeline pad)
